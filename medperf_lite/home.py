"""The home folder: the server's store, the profiles' logins, and each user's local storage.

The settings' home (``MEDPERF_LITE_HOME``, default ``~/.medperf_lite``) holds ``server/`` (db.json + blobs),
``config.yaml`` (profiles, each with its own login; the MedPerf flow the home follows) and
``users/<email>/``, the user's "machine": prepared data, startup kits, certificates, logs, results.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from filelock import FileLock

from medperf_lite import rules, world
from medperf_lite.containers import contract
from medperf_lite.errors import MedperfError
from medperf_lite.files import atomic_write
from medperf_lite.inputs import load_yaml, read_file
from medperf_lite.settings import Settings
from medperf_lite.store import Store

DEFAULT_PROFILE = "default"
RESERVED_PROFILES = ("default", "testauth", "local")  # MedPerf's own profiles (cli/medperf/config.py): always there
PROFILE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
DEFAULT_FLOW = "nvflare"
# MedPerf main's profile settings for its CA (cli/medperf/config.py): CA 1, the built-in one, by
# default; `profile set` changes them, every trust checks the CA's fingerprint against the profile's
CA_SETTINGS = ("certificate_authority_id", "certificate_authority_fingerprint")


class Home:
    def __init__(self, config: Settings | Path | str):
        """The home of ``config`` (the settings the CLI or plugin entry built and carried), or
        the folder ``config`` with every other setting at its default (a reader of a home)."""
        self.settings = config if isinstance(config, Settings) else Settings(home=Path(config).expanduser().resolve())
        self.root = self.settings.home
        if self.root.exists() and not self.root.is_dir():
            raise MedperfError(f"MEDPERF_LITE_HOME {self.root} is not a folder")
        self.store = Store(self.root / "server", world.seed)
        self._config_path = self.root / "config.yaml"
        self._config_lock = FileLock(str(self.root / "config.lock"))

    # ------------------------------------------------------------ profiles and login

    def _read_config(self) -> dict:
        config = self._load_config()
        for name in RESERVED_PROFILES:
            config["profiles"].setdefault(name, {"user": None})
        return config

    def _load_config(self) -> dict:
        if not self._config_path.exists():
            return {"active": DEFAULT_PROFILE, "profiles": {DEFAULT_PROFILE: {"user": None}}}
        source = f"the profile config {self._config_path}"
        config = load_yaml(read_file(self._config_path, source), source)
        profiles = config.get("profiles") if isinstance(config, dict) else None
        if (not isinstance(config.get("active") if isinstance(config, dict) else None, str)
                or not isinstance(profiles, dict) or config.get("flow", DEFAULT_FLOW) not in contract.FLOWS
                or not all(isinstance(p, dict) and isinstance(p.get("user"), str | None) for p in profiles.values())):
            raise MedperfError(f"the profile config {self._config_path} is damaged; fix or remove it")
        return config

    def _update_config(self, change) -> object:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._config_lock:
            config = self._read_config()
            value = change(config)
            atomic_write(self._config_path, yaml.safe_dump(config).encode())
            return value

    def profile(self) -> str:
        config = self._read_config()
        name = self.settings.profile or config["active"]
        if name not in config["profiles"]:
            raise MedperfError(f"profile '{name}' does not exist; see 'medperf profile ls'")
        return name

    def profiles(self) -> dict[str, dict]:
        return self._read_config()["profiles"]

    @property
    def flow(self) -> str:
        """The MedPerf flow this home follows: 'nvflare' (the default) or 'flower' (MedPerf main)."""
        return self._read_config().get("flow", DEFAULT_FLOW)

    def choose_flow(self, flow: str) -> None:
        """Sets the flow, while the server holds no training experiment (their records follow it)."""
        if flow not in contract.FLOWS:
            raise MedperfError(f"unknown flow '{flow}'; choose one of: {', '.join(contract.FLOWS)}")

        def change(config):
            if config.get("flow", DEFAULT_FLOW) != flow and self.store.state()["experiments"]:
                raise MedperfError(f"this home follows the {config.get('flow', DEFAULT_FLOW)} flow and its server holds "
                                   "training experiments; use a new home for the other flow")
            config["flow"] = flow

        self._update_config(change)

    def ca_setting(self, name: str, profile: str | None = None):
        """A profile's certificate_authority_id or certificate_authority_fingerprint (MedPerf main)."""
        default = 1 if name == "certificate_authority_id" else self._read_config().get("ca_fingerprint", world.ca_fingerprint())
        return self.profiles()[profile or self.profile()].get(name, default)

    def set_default_fingerprint(self, fingerprint: str) -> None:
        """The CA fingerprint every profile expects unless set otherwise (tutorial init's CA)."""
        def change(config):
            config["ca_fingerprint"] = fingerprint

        self._update_config(change)

    def set_ca_settings(self, values: dict, profile: str | None = None) -> None:
        profile = profile or self.profile()

        def change(config):
            config["profiles"][profile].update(values)

        self._update_config(change)

    def current_user(self) -> str | None:
        return self.settings.user or self.profiles()[self.profile()]["user"]

    def require_user(self) -> str:
        email = self.current_user()
        if not email:
            raise MedperfError("you are not logged in; run 'medperf auth login -e EMAIL'")
        self.store.run(rules.check_login, None, email)
        return email

    def login(self, email: str) -> None:
        if self.settings.user:
            raise MedperfError("MEDPERF_LITE_USER is set for this process; unset it to log in")
        self.store.run(rules.check_login, None, email)
        profile = self.profile()

        def change(config):
            current = config["profiles"][profile]["user"]
            if current:
                raise MedperfError(f"already logged in as {current}; run 'medperf auth logout' first")
            config["profiles"][profile]["user"] = email

        self._update_config(change)

    def logout(self) -> str:
        profile = self.profile()

        def change(config):
            current = config["profiles"][profile]["user"]
            if not current:
                raise MedperfError("you are not logged in")
            config["profiles"][profile]["user"] = None
            return current

        return self._update_config(change)

    def create_profile(self, name: str) -> None:
        if not PROFILE_RE.match(name):
            raise MedperfError(f"profile name '{name}' may use only letters, digits, '_', '-', '.'")

        def change(config):
            if name in config["profiles"]:
                raise MedperfError(f"profile '{name}' already exists")
            config["profiles"][name] = {"user": None}

        self._update_config(change)

    def activate_profile(self, name: str) -> None:
        def change(config):
            if name not in config["profiles"]:
                raise MedperfError(f"profile '{name}' does not exist")
            config["active"] = name

        self._update_config(change)

    def delete_profile(self, name: str) -> None:
        def change(config):
            if name not in config["profiles"]:
                raise MedperfError(f"profile '{name}' does not exist")
            if name in RESERVED_PROFILES:
                raise MedperfError(f"profile '{name}' is reserved: MedPerf's profiles "
                                   f"{', '.join(RESERVED_PROFILES)} cannot be deleted")
            if name == config["active"]:
                raise MedperfError(f"profile '{name}' is active and cannot be deleted; activate another profile first")
            del config["profiles"][name]

        self._update_config(change)

    # ------------------------------------------------------------ local storage

    def user_dir(self, email: str, *parts: str) -> Path:
        path = self.root.joinpath("users", email, *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path
