"""A real ``algodesk serve`` process on a free loopback port, for end-to-end tests, browser
tests and benchmarks."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN_PASSWORD = "e2e-admin-password-123"  # noqa: S105 - a throwaway test desk's
ALGODESK = str(Path(sys.executable).with_name("algodesk"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, *args: str, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.output: list[str] = []
        self.webhook_path = ""
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> Server:
        env = {**os.environ, "ALGODESK_ADMIN_PASSWORD": ADMIN_PASSWORD}
        env.pop("ALGODESK_DATABASE_URL", None)
        self.proc = subprocess.Popen(  # noqa: S603 - our own command, no shell
            [ALGODESK, "serve", "--data-dir", str(self.data_dir), "--port", str(self.port),
             *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        found = threading.Event()

        def read() -> None:
            assert self.proc is not None
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line.rstrip("\n"))
                match = re.search(r"demo webhook:\s+\S+?(/webhooks/tradingview/\S+)", line)
                if match:
                    self.webhook_path = match.group(1)
                    found.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        found.wait(timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + "\n".join(self.output))
            try:
                if httpx.get(f"{self.base}/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready:\n" + "\n".join(self.output))

    def _close(self) -> None:
        assert self.proc is not None
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
                return
            self._close()

    def login(self) -> dict[str, str]:
        answer = httpx.post(
            f"{self.base}/api/v1/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            timeout=10,
        )
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def get(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        answer = httpx.get(f"{self.base}{path}", headers=headers, params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def settled(self, headers: dict[str, str], alert_id: int, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alert = self.get(f"/api/v1/alerts/{alert_id}", headers)
            if alert["status"] != "PENDING":
                return alert
            time.sleep(0.05)
        raise AssertionError(f"alert {alert_id} still pending after {timeout} s")
