"""The one place that builds jobflow's JobStore.

A location is either a folder, for the embedded on-disk store (maggma's
``MontyStore``: MongoDB's API on SQLite files, no server), or a ``mongodb://`` /
``mongodb+srv://`` URI for a MongoDB server (``docker compose up`` starts one).
Large outputs (relaxed structures) go to a second ``data`` store, as in atomate2.

Several processes (``rlaunch`` workers, say) may share one embedded store: its
collections are created when a store connects, and every write holds a lock file
beside the database (:class:`LockedMontyStore`), so concurrent writers wait for one
another instead of losing documents; a writer that waits longer than its timeout
raises :class:`StoreBusyError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from jobflow import JobStore
from maggma.core import Store
from maggma.stores import MongoURIStore, MontyStore
from maggma.stores.gridfs import GridFSURIStore
from monty.json import jsanitize

from sianode_flows.settings import get_settings

logger = logging.getLogger(__name__)

DOCS_COLLECTION = "outputs"
DATA_COLLECTION = "outputs_blobs"


BLOB_KEY = "blob_uuid"
"""Key of jobflow's documents in its additional (data) stores."""
BLOB_SCAN_MIN = 20
"""From this many blob uuids, one scan against a set answers a ``$in`` query."""
LOCK_TIMEOUT = 600.0
"""Seconds a write to the embedded store waits for another writer before it fails."""


class StoreBusyError(RuntimeError):
    """A write to the embedded store waited too long for another writer."""


class LockedMontyStore(MontyStore):
    """maggma's MontyStore (SQLite files) that several processes can write to safely.

    Connecting creates the collection under the lock (no ``no such table`` race
    between workers that start together); every write (``update``,
    ``remove_docs``, ``ensure_index``) holds a lock file beside the database, so
    writes from several processes are serialized and none is lost.

    Parameters
    ----------
    collection_name, database_path, database_name, storage, storage_kwargs, client_kwargs
        As :class:`maggma.stores.MontyStore`.
    lock_timeout
        Seconds a write waits for the lock before raising :class:`StoreBusyError`.
    **kwargs
        Passed to :class:`maggma.stores.MontyStore`.
    """

    def __init__(
        self,
        collection_name: str,
        database_path: str | None = None,
        database_name: str = "db",
        storage: str = "sqlite",
        storage_kwargs: dict | None = None,
        client_kwargs: dict | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        self.lock_timeout = lock_timeout
        super().__init__(
            collection_name,
            database_path=database_path,
            database_name=database_name,
            storage=storage,
            storage_kwargs=storage_kwargs,
            client_kwargs=client_kwargs,
            **kwargs,
        )

    @property
    def lock_path(self) -> Path:
        """The lock file of the database (one for all its collections)."""
        return Path(self.database_path) / f"{self.database_name}.lock"

    def _locked(self) -> FileLock:
        return FileLock(str(self.lock_path), timeout=self.lock_timeout)

    def _hold(self, action: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a store operation while holding the lock; say so when it cannot."""
        try:
            with self._locked():
                return function(*args, **kwargs)
        except Timeout as exc:
            raise StoreBusyError(
                f"could not {action} {self.name}: another process held {self.lock_path} "
                f"for more than {self.lock_timeout:g} s"
            ) from exc

    def connect(self, force_reset: bool = False) -> None:
        """Connect, creating the collection first if it does not exist yet."""

        def connect_and_create() -> None:
            MontyStore.connect(self, force_reset=force_reset)
            database = self._coll.database
            if self.collection_name not in database.list_collection_names():
                database.create_collection(self.collection_name)

        self._hold("connect to", connect_and_create)

    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Write documents while holding the lock (see :meth:`MontyStore.update`).

        jobflow's blobs (key ``blob_uuid``) are inserted in one go: each has a fresh
        uuid, so there is nothing to replace, and MontyDB, which has no indexes, would
        otherwise scan the collection once per blob (a 6,000-structure harvest: hours).
        """
        if key == BLOB_KEY:
            blobs = [
                jsanitize(d, allow_bson=True) for d in (docs if isinstance(docs, list) else [docs])
            ]
            if blobs:
                self._hold("write to", self._collection.insert_many, blobs)
            return
        self._hold("write to", MontyStore.update, self, docs, key)

    def query(
        self,
        criteria: dict | None = None,
        properties: dict | list | None = None,
        sort: dict | None = None,
        hint: dict | None = None,
        skip: int = 0,
        limit: int = 0,
        **kwargs: Any,
    ) -> Iterator[dict]:
        """Query as :meth:`MontyStore.query`; many blobs by uuid in one scan.

        jobflow reads an output's blobs with ``{"blob_uuid": {"$in": [...]}}``;
        MontyDB, which has no indexes, tests each document against the whole list
        (reading back a 6,000-structure selection: two minutes). Such a query is
        answered here by one pass over the collection against a set.
        """
        wanted = blob_uuids_asked(criteria)
        if wanted is None or sort or hint or skip or limit or isinstance(properties, dict):
            yield from super().query(criteria, properties, sort, hint, skip, limit, **kwargs)
            return
        fields = None if properties is None else sorted({*properties, BLOB_KEY})
        for doc in super().query({}, fields, **kwargs):
            if doc.get(BLOB_KEY) in wanted:
                if properties is not None and BLOB_KEY not in properties:
                    doc.pop(BLOB_KEY)
                yield doc

    def remove_docs(self, criteria: dict) -> None:
        """Remove documents while holding the lock."""
        self._hold("remove from", MontyStore.remove_docs, self, criteria)

    def ensure_index(self, key: str, unique: bool = False) -> bool:
        """Create an index while holding the lock."""
        return self._hold("index", MontyStore.ensure_index, self, key, unique)


def blob_uuids_asked(criteria: dict | None) -> set[str] | None:
    """Return the uuids of a query for many blobs by ``$in`` (jobflow's), else ``None``."""
    if not criteria or list(criteria) != [BLOB_KEY] or not isinstance(criteria[BLOB_KEY], dict):
        return None
    condition = criteria[BLOB_KEY]
    if list(condition) != ["$in"] or len(condition["$in"]) < BLOB_SCAN_MIN:
        return None
    return set(condition["$in"])


def is_mongo_uri(location: str) -> bool:
    """Return whether a store location is a MongoDB URI."""
    return location.startswith(("mongodb://", "mongodb+srv://"))


def build_store(location: str, collection_name: str, database: str | None = None) -> Store:
    """Build one maggma store at a location (folder or MongoDB URI).

    Parameters
    ----------
    location
        Folder of the embedded store, or a MongoDB URI.
    collection_name
        Collection to use.
    database
        MongoDB database (for a URI); defaults to the settings' ``mongo_database``.

    Returns
    -------
    Store
        An unconnected maggma store.
    """
    if is_mongo_uri(location):
        return MongoURIStore(
            location,
            collection_name=collection_name,
            database=database or get_settings().mongo_database,
        )
    folder = Path(location).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return LockedMontyStore(
        collection_name,
        database_path=str(folder),
        database_name="sianode",
        storage="sqlite",
    )


def build_job_store(location: str | None = None, database: str | None = None) -> JobStore:
    """Build the jobflow JobStore: documents plus a ``data`` store for large objects.

    Parameters
    ----------
    location
        Folder of the embedded store or a MongoDB URI; the settings' ``store`` by
        default (``SIANODE_STORE``).
    database
        MongoDB database name, for a URI.

    Returns
    -------
    JobStore
        An unconnected job store.
    """
    location = location or get_settings().store
    docs = build_store(location, DOCS_COLLECTION, database)
    if is_mongo_uri(location):
        data: Store = GridFSURIStore(
            location,
            collection_name=DATA_COLLECTION,
            database=database or get_settings().mongo_database,
        )
    else:
        data = build_store(location, DATA_COLLECTION)
    logger.debug("job store at %s", location)
    return JobStore(docs, additional_stores={"data": data})
