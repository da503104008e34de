"""The Library tab's handlers: admin sign-in, loading files, removing documents.

Uploaded files are copied to `<index>/uploads/` before they are loaded, so `cx-copilot rebuild` can find them
again; removing such a source deletes its copy. Every handler that changes the knowledge base checks the
session's admin flag (a server-side gr.State: a client cannot forge it). Sign-in attempts go through the
`SignInLimiter`; sign-ins, failures, loads and removals are logged with the client's address.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

import gradio as gr

from ..errors import CopilotError
from .render import header, notice, render_outcomes, source_rows
from .security import AdminClients, SignInLimiter, client_of, password_matches

log = logging.getLogger("copilot.security")


def restore(dest: Path, backup: Path | None) -> None:
    """Put back what an upload replaced (or drop the copy) after a failed load."""
    try:
        if backup is not None and backup.exists():
            os.replace(backup, dest)
        else:
            dest.unlink(missing_ok=True)
    except OSError:
        pass


def require_admin(admin) -> None:
    if not admin:
        raise gr.Error("Sign in with the admin password to manage documents.")


class Library:
    """Handlers of the Library tab over explicit state: the copilot, the admin password, the uploads folder,
    the sign-in limiter and the addresses with a signed-in admin (for the upload route)."""

    def __init__(self, cp, password: str, uploads: Path, limiter: SignInLimiter | None = None,
                 admins: AdminClients | None = None):
        self.cp = cp
        self.password = password
        self.uploads = uploads
        self.limiter = limiter or SignInLimiter()
        self.admins = admins or AdminClients(password)

    def view(self):
        """(table rows, the remove dropdown, the header) for the current knowledge base."""
        sources = self.cp.sources()
        choices = [s["source"] for s in sources]
        return source_rows(sources), gr.update(choices=choices, value=None), header(sources)

    def _signed_in(self, client: str):
        self.admins.grant(client)
        return (gr.update(visible=False), gr.update(visible=True), True, "", *self.view())

    def sign_in(self, pw, admin, request: gr.Request = None):
        client = client_of(request)
        if admin:
            return self._signed_in(client)
        refused = (gr.skip(), gr.skip(), False)
        if not self.password:
            return (*refused, notice("No admin password is set on this server.", "error"), *[gr.skip()] * 3)
        wait = self.limiter.attempt(client)
        if wait > 0:
            log.warning("sign-in from %s refused: too many failed attempts, %.1f s to wait", client, wait)
            return (*refused, notice(f"Too many failed sign-in attempts. Try again in {max(1, round(wait))} s.",
                                     "error"), *[gr.skip()] * 3)
        if password_matches(pw, self.password):
            self.limiter.succeeded(client)
            log.info("admin signed in from %s", client)
            return self._signed_in(client)
        log.warning("failed admin sign-in from %s (%d failed attempts from this address recently)", client,
                    self.limiter.failures(client))
        return (*refused, notice("Wrong password.", "error"), *[gr.skip()] * 3)

    def sign_out(self, request: gr.Request = None):
        client = client_of(request)
        self.admins.revoke(client)
        log.info("admin signed out from %s", client)
        return gr.update(visible=True), gr.update(visible=False), False, "", [], gr.update(choices=[], value=None)

    def on_load(self, admin):
        stats = header(self.cp.sources())
        if admin:
            return (*self.view()[:2], stats)
        return gr.skip(), gr.skip(), stats

    def load_files(self, files, admin, request: gr.Request = None, progress=gr.Progress()):
        require_admin(admin)
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        if not paths:
            return notice("Choose one or more files first (PDF, Markdown, text or HTML).", "warning"), \
                gr.skip(), gr.skip(), gr.skip(), gr.skip()
        self.uploads.mkdir(parents=True, exist_ok=True)
        placed: list[tuple[Path, Path | None]] = []  # (copy in uploads/, backup of what it replaced)
        for p in paths:
            src = Path(p)
            dest = self.uploads / src.name
            if any(dest == d for d, _ in placed):  # two files of one name: the later one wins
                shutil.copyfile(src, dest)
                continue
            backup = None
            if dest.exists():
                backup = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.bak")
                shutil.copy2(dest, backup)
            shutil.copyfile(src, dest)
            placed.append((dest, backup))

        def tick(stage, done, total):
            if total:
                progress((done, total), desc=f"{stage.capitalize()}", unit="files" if stage == "reading" else "chunks")

        try:
            report = self.cp.ingest([d for d, _ in placed], progress=tick)
        except Exception:
            for dest, backup in placed:
                restore(dest, backup)
            raise
        failed = {Path(f.path).resolve() for f in report.files if f.status in {"failed", "skipped"}}
        for dest, backup in placed:
            if dest.resolve() in failed:
                restore(dest, backup)
            elif backup is not None:
                backup.unlink(missing_ok=True)
        log.info("admin at %s loaded %s: %s", client_of(request), ", ".join(repr(d.name) for d, _ in placed),
                 report.summary())
        flags = {s["source"]: s.get("instructions") or 0 for s in self.cp.sources()}
        rows, dropdown, stats = self.view()
        return render_outcomes(report, flags), rows, dropdown, stats, None

    def remove_source(self, name, admin, request: gr.Request = None):
        require_admin(admin)
        if not isinstance(name, str) or not name:
            return notice("Choose a document to remove.", "warning"), gr.skip(), gr.skip(), gr.skip()
        entry = next((s for s in self.cp.sources() if s["source"] == name), None)
        try:
            n = self.cp.remove(name)
        except CopilotError as exc:
            return notice(str(exc), "error"), gr.skip(), gr.skip(), gr.skip()
        if entry and entry.get("path"):
            stored = Path(entry["path"])
            try:
                if stored.resolve().parent == self.uploads.resolve():
                    stored.unlink(missing_ok=True)
            except OSError:
                pass
        log.info("admin at %s removed %r (%d chunks)", client_of(request), name, n)
        rows, dropdown, stats = self.view()
        return notice(f"Removed {name} ({n} chunks).", "ok"), rows, dropdown, stats

    def pick_row(self, evt: gr.SelectData):
        row = getattr(evt, "row_value", None)
        if row and len(row) > 1:
            return gr.update(value=row[1])
        return gr.skip()
