"""The one place that builds jobflow's JobStore.

A location is either a folder, for the embedded on-disk store (maggma's
``MontyStore``: MongoDB's API on SQLite files, no server), or a ``mongodb://`` /
``mongodb+srv://`` URI for a MongoDB server (``docker compose up`` starts one).
Large outputs (relaxed structures) go to a second ``data`` store, as in atomate2.
"""

from __future__ import annotations

import logging
from pathlib import Path

from jobflow import JobStore
from maggma.core import Store
from maggma.stores import MongoURIStore, MontyStore
from maggma.stores.gridfs import GridFSURIStore

from sianode_flows.settings import get_settings

logger = logging.getLogger(__name__)

DOCS_COLLECTION = "outputs"
DATA_COLLECTION = "outputs_blobs"


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
    return MontyStore(
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
