"""The web app (Gradio): a chat that shows its evidence, and a library for managing documents.

This package is the only place that imports gradio. `build_app(cp)` returns the Blocks, `launch(app, ...)`
starts it, `serve(cp, host, port)` is what `cx-copilot serve` calls.

- app.py: the Blocks layout and wiring only
- chat.py, library.py: the handlers of the Ask and Library tabs (methods over explicit state)
- render.py: pure, escaped rendering; feedback.py: the bounded feedback file
- security.py: who may reach the app and do what (the request guard, sign-in limits); docs/security.md
- style.css, citations.js: the look and the citation links
"""

import os

# Offline and private: set before gradio is imported, whatever the user's environment says.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from ..inputs import parse_history  # noqa: E402
from .app import build_app, launch, serve, theme  # noqa: E402
from .feedback import FeedbackLimits, FeedbackLog  # noqa: E402
from .render import (SOURCE_HEADERS, backend_label, esc, highlight, md_text, notice, render_answer,  # noqa: E402
                     render_citation, render_error, render_meta, render_outcomes, render_sources, source_rows,
                     where)
from .security import ADMIN_ENV, HostPolicy, RequestGuard, SignInLimiter, check_host, is_loopback  # noqa: E402

__all__ = ["ADMIN_ENV", "FeedbackLimits", "FeedbackLog", "HostPolicy", "RequestGuard", "SOURCE_HEADERS",
           "SignInLimiter", "backend_label", "build_app", "check_host", "esc", "highlight", "is_loopback", "launch",
           "md_text", "notice", "parse_history", "render_answer", "render_citation", "render_error", "render_meta",
           "render_outcomes", "render_sources", "serve", "source_rows", "theme", "where"]
