"""Who may reach the app and what they may do: the listening address, and the admin password."""

from __future__ import annotations

import ipaddress
import os

from ..errors import CopilotError

ADMIN_ENV = "COPILOT_ADMIN_PASSWORD"


def admin_password() -> str:
    """The admin password from the environment ("" when none is set: the Library is open on this machine)."""
    return os.environ.get(ADMIN_ENV) or ""


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> None:
    """Refuse to listen beyond this machine unless the library is protected by an admin password."""
    if not is_loopback(host) and not admin_password():
        raise CopilotError(
            f"Refusing to serve on {host}: other machines could change the knowledge base. Set "
            f"{ADMIN_ENV} to protect the Library tab, or serve on 127.0.0.1 (the default).")
