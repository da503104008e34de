"""The Blocks app: layout and wiring only. The handlers live in chat.py, library.py and metrics.py, the rendering in
render.py, the look in style.css and citations.js.

`build_app(cp)` returns the Blocks, `launch(app, ...)` starts it with the settings it needs (theme, CSS, the
citation script, no telemetry), and `serve(cp, host, port)` is what `cx-copilot serve` calls.

Answer backends (copilot/backends/): when the environment configures more than one, the chat shows an "Answer with"
control (default: COPILOT_BACKEND) and the `/ask` endpoint takes an optional third argument, `backend`. LLM
answers stream token by token; the final, grounded answer then replaces the streamed text, with the backend that
answered and any notes (a fallback, dropped sentences) shown small under it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..errors import CopilotError
from ..inputs import InputLimits
from . import render
from .chat import Backends, Chat
from .feedback import FeedbackLog
from .library import Library
from . import metrics as survey_tab
from .metrics import FILE_TYPES, METRIC_CHOICES, NONE, PERIOD_CHOICES
from .metrics import EMPTY as METRICS_EMPTY
from .security import (ADMIN_ENV, AdminClients, HostPolicy, RequestGuard, SignInLimiter, SignInSettings,
                       admin_password, check_host)

HERE = Path(__file__).resolve().parent
UPLOAD_TYPES = [".pdf", ".md", ".markdown", ".txt", ".text", ".html", ".htm"]
EXAMPLES = [
    "How is NPS calculated?",
    "What is a customer journey map?",
    "When should I use CES instead of CSAT?",
    "How do I start a voice of the customer program?",
    "What is the difference between CSAT and NPS?",
    "What is the difference between CX and customer service?",
    "We had 120 promoters, 50 passives and 30 detractors: what's our NPS?",
    "How do the sources define customer experience?",
]
CHAT_CONCURRENCY = 8  # chat events answered at once; loading documents runs in its own queue lane


@dataclass
class Security:
    """What `launch` needs from the app it serves: who has signed in (for the upload route)."""

    admins: AdminClients


def build_app(cp) -> gr.Blocks:
    """The Blocks app for a Copilot. Start it with `launch(app, ...)` (or `serve`): only `launch` puts the
    request guard in front of it."""
    password = admin_password()
    limits = InputLimits.from_env()
    backends = Backends(cp)
    feedback = FeedbackLog(Path(cp.index_dir) / "feedback.jsonl")
    chat = Chat(cp, backends, feedback, limits)
    admins = AdminClients(password)
    library = Library(cp, password, Path(cp.index_dir) / "uploads", SignInLimiter(SignInSettings.from_env()), admins)

    with gr.Blocks(title="CX Copilot", analytics_enabled=False, fill_width=True, delete_cache=(3600, 86400)) as app:
        turns = gr.State([])
        pending = gr.State(None)
        admin = gr.State(not password)
        header = gr.HTML(render.header(cp.sources()), elem_id="cx-header", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask", elem_id="cx-ask-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        chatbot = gr.Chatbot(
                            elem_id="cx-chat", show_label=False, height=560, layout="bubble",
                            sanitize_html=True, render_markdown=True, allow_tags=False, latex_delimiters=[],
                            buttons=[], autoscroll=True, group_consecutive_messages=False,
                            placeholder=("<div class='cx-placeholder'><b>Ask a customer-experience question.</b>"
                                         "<br>Answers come only from the documents in the knowledge base, "
                                         "each claim marked with its source.</div>"),
                            examples=[{"text": q} for q in EXAMPLES])
                        with gr.Group(visible=False, elem_id="cx-feedback") as feedback_box:
                            comment = gr.Textbox(label="Thanks for rating. Anything to add? (optional)",
                                                 placeholder="What was wrong, missing or especially useful?",
                                                 lines=1, max_lines=4, elem_id="cx-comment",
                                                 max_length=feedback.limits.comment_chars)
                            with gr.Row():
                                send = gr.Button("Send comment", size="sm", variant="secondary",
                                                 elem_id="cx-send-comment")
                                skip = gr.Button("Dismiss", size="sm", variant="secondary")
                        with gr.Row(elem_id="cx-inputrow"):
                            question = gr.Textbox(show_label=False, placeholder="Ask about NPS, journey maps, VoC "
                                                  "programs…  (Enter to send)", scale=6, lines=1, max_lines=4,
                                                  autofocus=True, elem_id="cx-question", submit_btn=False,
                                                  max_length=limits.question_chars)
                            ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="cx-ask")
                            new_btn = gr.Button("New chat", variant="secondary", scale=1, min_width=100,
                                                elem_id="cx-new")
                        if backends.choice:
                            with gr.Row(elem_id="cx-settings"):
                                backend_choice = gr.Dropdown(
                                    choices=[(backends.label(b), b) for b in backends.names], value=backends.default,
                                    label="Answer with", elem_id="cx-backend", scale=0, min_width=240,
                                    filterable=False, allow_custom_value=False, interactive=True)
                        else:
                            backend_choice = gr.State("")
                    with gr.Column(scale=2, min_width=320):
                        sources_panel = gr.HTML(render.EMPTY_PANEL, elem_id="cx-sources", js_on_load=None)
            with gr.Tab("Library", id="library", elem_id="cx-library-tab"):
                with gr.Column(visible=bool(password), elem_id="cx-login") as login_box:
                    gr.Markdown("### Admin sign-in\nManaging documents needs the admin password. Chatting does not.")
                    pw = gr.Textbox(label="Admin password", type="password", elem_id="cx-password", max_lines=1,
                                    max_length=1024)
                    login_btn = gr.Button("Sign in", variant="primary", elem_id="cx-login-btn")
                    login_msg = gr.HTML("", js_on_load=None)
                with gr.Column(visible=not password, elem_id="cx-manage") as manage_box:
                    if password:
                        with gr.Row(elem_id="cx-admin-bar"):
                            gr.HTML('<span class="cx-muted">Signed in as admin.</span>', js_on_load=None)
                            logout_btn = gr.Button("Sign out", size="sm", variant="secondary", scale=0,
                                                   min_width=90)
                    gr.Markdown("### Add documents\nPDF, Markdown, text or HTML. Loading a file again replaces "
                                "the earlier version; unchanged files are skipped.")
                    files = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, label="Files",
                                    elem_id="cx-upload", height=140)
                    load_btn = gr.Button("Load files", variant="primary", elem_id="cx-load")
                    outcome = gr.HTML("", elem_id="cx-outcome", js_on_load=None)
                    gr.Markdown("### Documents in the knowledge base")
                    table = gr.Dataframe(headers=render.SOURCE_HEADERS, value=render.source_rows(cp.sources()) if not password
                                         else [], interactive=False, wrap=True, max_height=420,
                                         datatype=["str", "str", "str", "number", "str", "str", "str"],
                                         column_widths=["26%", "20%", "8%", "7%", "7%", "14%", "18%"],
                                         elem_id="cx-table")
                    with gr.Row(equal_height=False, elem_id="cx-remove-row"):
                        to_remove = gr.Dropdown(choices=[s["source"] for s in cp.sources()] if not password else [],
                                                label="Remove a document (or select its row above)", scale=4,
                                                elem_id="cx-remove-choice", allow_custom_value=False)
                        remove_btn = gr.Button("Remove", variant="stop", scale=1, min_width=120,
                                               elem_id="cx-remove")
                    remove_msg = gr.HTML("", elem_id="cx-remove-msg", js_on_load=None)
            with gr.Tab("Metrics", id="metrics", elem_id="cx-metrics-tab"):
                gr.Markdown("### Survey metrics from your own responses\nUpload a CSV or Excel file with one "
                            "response per row: NPS, CSAT or CES with its margin of error, the distribution of "
                            "answers, the trend by period and a comparison of segments."
                            + ("\n\nOn this server, uploading a file needs the admin sign-in (Library tab)."
                               if password else ""))
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=300):
                        survey_file = gr.File(label="Survey responses (CSV, TSV or Excel)", file_types=FILE_TYPES,
                                              type="filepath", elem_id="cx-metrics-file", height=120)
                        survey_metric = gr.Radio(METRIC_CHOICES, value="nps", label="Metric", elem_id="cx-metrics-metric")
                        survey_column = gr.Dropdown(choices=[], label="Score column", elem_id="cx-metrics-column",
                                                    allow_custom_value=False)
                        with gr.Row():
                            survey_date = gr.Dropdown(choices=[NONE], value=NONE, label="Date column (optional)",
                                                      elem_id="cx-metrics-date", allow_custom_value=False)
                            survey_period = gr.Dropdown(choices=PERIOD_CHOICES, value="month", label="Trend by",
                                                        elem_id="cx-metrics-period", allow_custom_value=False)
                        survey_segment = gr.Dropdown(choices=[NONE], value=NONE, label="Segment column (optional)",
                                                     elem_id="cx-metrics-segment", allow_custom_value=False)
                        survey_run = gr.Button("Analyse", variant="primary", elem_id="cx-metrics-run")
                    with gr.Column(scale=2, min_width=420):
                        survey_summary = gr.HTML(METRICS_EMPTY, elem_id="cx-metrics-summary", js_on_load=None)
                        survey_dist = gr.Plot(label="Distribution of answers", elem_id="cx-metrics-dist",
                                              format="png")
                        survey_trend = gr.Plot(label="Trend", elem_id="cx-metrics-trend", format="png")
                        survey_segments = gr.Plot(label="Segments", elem_id="cx-metrics-segments", format="png")

        chat_io = dict(inputs=[question, turns, backend_choice], outputs=[question, chatbot, turns, sources_panel, feedback_box],
                       concurrency_limit=CHAT_CONCURRENCY, concurrency_id="chat", api_visibility="private",
                       show_progress="hidden")
        question.submit(chat.respond, **chat_io)
        ask_btn.click(chat.respond, **chat_io)
        chatbot.example_select(chat.pick_example, None, question, api_visibility="private", queue=False).then(
            chat.respond, **chat_io)
        new_btn.click(chat.new_chat, None, [chatbot, turns, sources_panel, feedback_box, pending, question],
                      api_visibility="private", queue=False)
        chatbot.clear(chat.new_chat, None, [chatbot, turns, sources_panel, feedback_box, pending, question],
                      api_visibility="private", queue=False)
        chatbot.like(chat.on_like, [turns], [feedback_box, pending], api_visibility="private", queue=False)
        send.click(chat.send_comment, [comment, pending], [feedback_box, pending, comment], api_visibility="private",
                   queue=False)
        comment.submit(chat.send_comment, [comment, pending], [feedback_box, pending, comment],
                       api_visibility="private", queue=False)
        skip.click(chat.dismiss, None, [feedback_box, pending, comment],
                   api_visibility="private", queue=False)

        library_out = [table, to_remove, header]
        login_btn.click(library.sign_in, [pw, admin], [login_box, manage_box, admin, login_msg, *library_out],
                        api_visibility="private", concurrency_limit=4, concurrency_id="login")
        pw.submit(library.sign_in, [pw, admin], [login_box, manage_box, admin, login_msg, *library_out],
                  api_visibility="private", concurrency_limit=4, concurrency_id="login")
        if password:
            logout_btn.click(library.sign_out, None, [login_box, manage_box, admin, pw, table, to_remove],
                             api_visibility="private", queue=False)
        # one load at a time, in its own lane: chat events keep flowing while a large file is embedded
        load_btn.click(library.load_files, [files, admin], [outcome, table, to_remove, header, files],
                       api_visibility="private", concurrency_limit=1, concurrency_id="library")
        remove_btn.click(library.remove_source, [to_remove, admin], [remove_msg, table, to_remove, header],
                         api_visibility="private", concurrency_limit=1, concurrency_id="library",
                         js="(name, admin) => (name && !window.confirm('Remove ' + name + ' from the knowledge "
                            "base?')) ? [null, admin] : [name, admin]")
        table.select(library.pick_row, None, to_remove, api_visibility="private", queue=False)
        app.load(library.on_load, [admin], [table, to_remove, header], api_visibility="private", queue=False)

        survey_plots = [survey_dist, survey_trend, survey_segments]
        survey_lane = dict(api_visibility="private", concurrency_limit=2, concurrency_id="metrics")
        survey_choices = [survey_column, survey_metric, survey_date, survey_segment]
        survey_file.upload(survey_tab.open_survey, [survey_file], [survey_summary, *survey_choices, *survey_plots],
                           **survey_lane)
        survey_file.clear(survey_tab.clear_survey, None, [survey_summary, *survey_plots],
                          api_visibility="private", queue=False)
        survey_inputs = [survey_file, survey_metric, survey_column, survey_date, survey_period, survey_segment]
        survey_run.click(survey_tab.analyse_survey, survey_inputs, [survey_summary, *survey_plots], **survey_lane)

        # no queue for the API: a direct request-response call, without the queue's event stream round trips
        gr.api(chat.ask, api_name="ask", queue=False)
    app.cx_security = Security(admins)
    return app


# ---------------------------------------------------------------- look, and starting the server

SYSTEM_SANS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
               "sans-serif")
SYSTEM_MONO = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")


def theme() -> gr.themes.Base:
    """System fonts only: nothing is fetched from the internet."""
    return gr.themes.Base(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate",
                          radius_size="md", font=SYSTEM_SANS, font_mono=SYSTEM_MONO).set(
        body_background_fill="*neutral_50", block_border_width="1px", block_shadow="none",
        button_primary_background_fill="*primary_600", button_primary_background_fill_hover="*primary_700",
        button_cancel_background_fill="white", button_cancel_background_fill_hover="#fef2f2",
        button_cancel_text_color="#b91c1c", button_cancel_border_color="#fecaca")


def _guarded_server_app(guard):
    """Gradio's server app with `guard` wrapped around its whole middleware stack, so that the guard sees
    every request first (before Gradio's CORS handling answers a preflight)."""
    from gradio.routes import App, ORJSONResponse

    class GuardedApp(App):
        def build_middleware_stack(self):
            return guard(super().build_middleware_stack())

    return GuardedApp(default_response_class=ORJSONResponse, openapi_url=None)


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True, quiet: bool = False,
           allowed_hosts: tuple[str, ...] | list[str] = ()):
    """Start the app with the settings it needs, behind the request guard (security.py): only requests for
    this server's own names (`allowed_hosts` adds names, e.g. a reverse proxy's) and from its own pages get
    through. With block=False it returns once the server is up."""
    policy = HostPolicy.for_server(host, allowed_hosts)
    security = getattr(app, "cx_security", None)
    uploads_allowed = security.admins.allowed if security is not None else None
    server_app = _guarded_server_app(lambda inner: RequestGuard(inner, policy, uploads_allowed))
    # api_open=False: queued handlers cannot be called around the queue (its concurrency limits hold)
    app.queue(default_concurrency_limit=2, max_size=256, api_open=False)
    return app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=quiet,
                      theme=theme(), css=(HERE / "style.css").read_text(encoding="utf-8"),
                      js=(HERE / "citations.js").read_text(encoding="utf-8"), footer_links=["api"],
                      run_history=False, ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
                      show_error=False, share=False, max_file_size="200mb", inbrowser=False, strict_cors=True,
                      _app=server_app)


def log_security_events(index_dir: Path) -> Path:
    """Send the `copilot.security` log (refused requests, sign-ins, loads, removals) to stderr and to
    `<index>/security.log` (rotated at 1 MB, 3 old files kept). Returns the log file's path."""
    path = Path(index_dir) / "security.log"
    logger = logging.getLogger("copilot.security")
    logger.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handlers = [logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"),
                logging.StreamHandler(sys.stderr)]
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return path


def serve(cp, host: str = "127.0.0.1", port: int = 7860, allowed_hosts: tuple[str, ...] | list[str] = ()) -> None:
    """`cx-copilot serve`: refuse non-local hosts without an admin password, then serve until interrupted."""
    check_host(host)
    HostPolicy.for_server(host, allowed_hosts)  # a bad --allowed-host is an error before anything starts
    app = build_app(cp)
    log_file = log_security_events(Path(cp.index_dir))
    try:
        launch(app, host, port, block=False, quiet=True, allowed_hosts=allowed_hosts)
    except OSError as exc:
        raise CopilotError(f"Cannot listen on {host}:{port} ({exc}). Is another copilot running? Stop it or "
                           "choose another port with --port.") from exc
    shown = f"[{host}]" if ":" in host else host
    print(f"CX Copilot is running at http://{shown}:{port}/  (Ctrl+C to stop)", flush=True)
    if os.environ.get(ADMIN_ENV):
        print("The Library tab asks for the admin password (COPILOT_ADMIN_PASSWORD).", flush=True)
    print(f"Security events (refused requests, sign-ins, changes to the library) are logged to {log_file}.",
          flush=True)
    app.block_thread()
