"""The server's storage: a TinyDB file shared by concurrent processes, plus a blob store.

Every transaction holds a cross-process lock, reads the whole file once, lets the rules
decide, and writes back atomically (temp file, fsync, rename) only if something changed:
a crash at any point leaves either the old or the new file, and a refused action leaves
the file byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from tinydb import TinyDB
from tinydb.storages import MemoryStorage
from tinydb.table import Document

from medperf_lite.errors import MedperfError
from medperf_lite.files import atomic_write
from medperf_lite.rules import TABLES, Change, Outcome, State


class Store:
    """The TinyDB file at ``root/db.json`` and content-addressed blobs under ``root/blobs``."""

    def __init__(self, root: Path, seed: Callable[[], list[Change]]):
        self.root = Path(root)
        self.db_path = self.root / "db.json"
        self.blob_dir = self.root / "blobs"
        self._lock = FileLock(str(self.root / "db.lock"))
        self._seed = seed

    @contextmanager
    def _locked_db(self) -> Iterator[tuple[TinyDB, bytes | None]]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            raw = self.db_path.read_bytes() if self.db_path.exists() else None
            db = TinyDB(storage=MemoryStorage)
            if raw is not None:
                try:
                    data = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise MedperfError(f"the server store {self.db_path} is unreadable: {e}") from None
                if not isinstance(data, dict) or not all(
                        isinstance(t, dict) and all(isinstance(r, dict) for r in t.values()) for t in data.values()):
                    raise MedperfError(f"the server store {self.db_path} is damaged: it must map tables to records")
                db.storage.write(data)
            else:
                _apply(db, self._seed())
            yield db, raw

    def state(self) -> State:
        with self._locked_db() as (db, _):
            return _state(db)

    def version(self) -> tuple[int, int, int] | None:
        """What changes whenever the store is written (every write replaces db.json): a
        watcher that saw this version need not read the store again. None before the first write."""
        try:
            st = self.db_path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def run(self, rule: Callable[..., Outcome], *args, **kwargs) -> Outcome:
        """Runs one rule as a transaction; refusals propagate and nothing is written."""
        with self._locked_db() as (db, raw):
            for orphan in self.root.glob(f".{self.db_path.name}.*"):  # left by a writer killed mid-write
                orphan.unlink(missing_ok=True)
            outcome = rule(_state(db), *args, **kwargs)
            _apply(db, outcome.changes)
            data = json.dumps(db.storage.read(), indent=1, sort_keys=True).encode()
            if data != raw:
                atomic_write(self.db_path, data)
            return outcome

    def put_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.blob_dir / digest
        if not path.exists():
            atomic_write(path, data)
        return digest

    def get_blob(self, digest: str) -> bytes:
        path = self.blob_dir / digest
        if not path.exists():
            raise MedperfError(f"blob {digest[:12]} is missing from the server's file store")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise MedperfError(f"blob {digest[:12]} in the server's file store was tampered with")
        return data


def _state(db: TinyDB) -> State:
    return {name: {doc.doc_id: dict(doc) for doc in sorted(db.table(name).all(), key=lambda d: d.doc_id)}
            for name in TABLES}


def _apply(db: TinyDB, changes: list[Change]) -> None:
    for table, doc_id, record in changes:
        t = db.table(table)
        if t.contains(doc_id=doc_id):
            t.remove(doc_ids=[doc_id])
        t.insert(Document(record, doc_id=doc_id))
