"""A real Dovecot IMAP server for tests: its own config, directory and loopback port.

``start_dovecot()`` writes a config into a fresh temporary directory and runs
``dovecot -F -c <dir>/dovecot.conf`` as a child process. It never touches the system's
Dovecot (``/etc/dovecot``, ``/run/dovecot``, port 143), which Debian's package may have
started: ``base_dir``, ``state_dir``, the log and the mail all live in the temporary
directory, and the listener is a free port on 127.0.0.1.

- No TLS, cleartext login allowed (``disable_plaintext_auth = no`` in 2.3,
  ``auth_allow_cleartext = yes`` in 2.4), no delay after a failed login.
- A static passdb: *any* user name logs in with the one password, and each user gets an
  empty Maildir on first login, so every test takes a fresh mailbox by using a new name
  on one shared server.
- Users: Dovecot refuses to run its login processes as root and to give mail access to
  UID 0. Run as root (CI, containers), login processes use Debian's ``dovenull`` and the
  mail belongs to Debian's ``dovecot`` user (``nobody`` where those do not exist); the
  temporary directory is made traversable (0711) and its mail folder owned by that user.
  Run as anyone else, Dovecot does everything as that user.

The 2.3 config (Debian 12) is the tested one; the 2.4 variant follows the 2.4
documentation's renamed settings.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imapclient import IMAPClient


def dovecot_binary() -> str | None:
    """The dovecot executable, or None (it lives in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


def dovecot_version(binary: str) -> tuple[int, int]:
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=True).stdout
    match = re.match(r"(\d+)\.(\d+)", output.strip())
    if not match:
        raise RuntimeError(f"cannot read the Dovecot version from {output!r}")
    return int(match.group(1)), int(match.group(2))


CONFIG_2_3 = """\
# Parley test instance (Dovecot 2.3): loopback only, no TLS, one password for every user.
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = parley-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_fsync = never
mail_location = maildir:{root}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
# No auth penalty: after a failed login Dovecot delays every login from that IP (loopback,
# so every later test) by up to 15 s. Unable to reach anvil's socket, auth skips it.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""

CONFIG_2_4 = """\
# Parley test instance (Dovecot 2.4): loopback only, no TLS, one password for every user.
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = parley-test-{port}
log_path = {root}/dovecot.log
ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_fsync = never
mail_driver = maildir
mail_home = {root}/mail/%{{user}}
mail_path = ~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb static {{
  password = {password}
}}
userdb static {{
  fields {{
    uid = {uid}
    gid = {gid}
    home = {root}/mail/%{{user}}
  }}
}}
# No auth penalty: after a failed login Dovecot delays every login from that IP (loopback,
# so every later test) by up to 15 s. Unable to reach anvil's socket, auth skips it.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _system_user(*names: str) -> pwd.struct_passwd:
    for name in names:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"none of the users {names} exists; Dovecot needs an unprivileged user")


@dataclass
class Dovecot:
    """A running test server. Any user name logs in with ``password``."""

    root: Path
    port: int
    password: str
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"

    # --- for channels ---------------------------------------------------------------

    def imap_config(self, username: str, **overrides: Any) -> dict[str, Any]:
        """The ``Channel.config["imap"]`` of a mailbox on this server."""
        return {"host": self.host, "port": self.port, "security": "none", "username": username, "folder": "INBOX", **overrides}

    # --- for test set-up and assertions -----------------------------------------------

    def client(self, username: str) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(username, self.password)
        return client

    def append(self, username: str, messages: list[bytes], *, folder: str = "INBOX") -> None:
        """Deliver messages in one MULTIAPPEND (the folder is created if needed)."""
        with self.client(username) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for start in range(0, len(messages), 100):
                client.multiappend(folder, messages[start : start + 100])

    def flags(self, username: str, *, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID -> flags of every message in the folder."""
        with self.client(username) as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            return dict(client.get_flags(uids)) if uids else {}

    def uidvalidity(self, username: str, *, folder: str = "INBOX") -> int:
        with self.client(username) as client:
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_dovecot(*, timeout: float = 15.0, template: str | None = None, files: dict[str, str] | None = None) -> Dovecot:
    """Start a private Dovecot and wait until it greets; raises with its log if it cannot.

    ``template`` replaces the config (same placeholders); ``files`` are written into the
    directory beside it (name -> text, formatted with the same placeholders)."""
    binary = dovecot_binary()
    if binary is None:
        raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
    template = template or (CONFIG_2_4 if dovecot_version(binary) >= (2, 4) else CONFIG_2_3)
    # A short path: Dovecot's unix sockets live under base_dir (108-byte limit).
    root = Path(tempfile.mkdtemp(prefix="parley-dovecot-"))
    if os.geteuid() == 0:
        mail_user = _system_user("dovecot", "nobody")
        internal_user, login_user = mail_user.pw_name, _system_user("dovenull", "nobody").pw_name
        root.chmod(0o711)  # the mail user must reach root/mail
    else:
        mail_user = pwd.getpwuid(os.geteuid())
        internal_user = login_user = mail_user.pw_name
    (root / "mail").mkdir()
    if os.geteuid() == 0:
        os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    password = os.urandom(8).hex()
    port = _free_port()
    config = root / "dovecot.conf"
    values = dict(
        root=root,
        port=port,
        password=password,
        uid=mail_user.pw_uid,
        gid=mail_user.pw_gid,
        internal_user=internal_user,
        login_user=login_user,
    )
    config.write_text(template.format(**values))
    for name, text in (files or {}).items():
        (root / name).write_text(text.format(**values))
    output = (root / "stdout.log").open("wb")
    process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=output, stderr=subprocess.STDOUT, cwd=root)
    output.close()
    server = Dovecot(root=root, port=port, password=password, process=process)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            detail = (root / "stdout.log").read_text(errors="replace") + server.log()
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"dovecot exited with status {process.returncode}:\n{detail}")
        try:
            with socket.create_connection((server.host, port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    sock.sendall(b"a LOGOUT\r\n")
                    sock.recv(100)
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            detail = server.log()
            server.stop()
            raise RuntimeError(f"dovecot did not answer on 127.0.0.1:{port} within {timeout:.0f} s:\n{detail}")
        time.sleep(0.05)
