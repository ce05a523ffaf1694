"""Writes through SQLiteDocumentCollection until killed, printing each acknowledged write.

    sqlite_writer.py DB_PATH RUN_NAME

Prints "insert ID" once insert_one has returned, and "update ID" once update_one has; a line
is only printed (and flushed) after the write returned, so every line is a durability promise.
"""

import asyncio
import itertools
import sys
from datetime import UTC, datetime
from typing import cast

from parlant.core.persistence.document_database import BaseDocument, identity_loader_for

from agent.store.sqlite_documents import SQLiteDocumentDatabase


async def write_until_killed(path: str, run: str) -> None:
    async with SQLiteDocumentDatabase(path) as database:
        documents = await database.get_or_create_collection(
            "documents", BaseDocument, identity_loader_for(BaseDocument)
        )
        for i in itertools.count():
            document_id = f"{run}-{i}"
            # Payloads of varying size, so commits span WAL pages differently.
            document = {
                "id": document_id,
                "creation_utc": datetime.now(UTC).isoformat(),
                "version": "1",
                "payload": "x" * (i * 97 % 5000),
            }
            await documents.insert_one(cast(BaseDocument, document))
            print("insert", document_id, flush=True)
            if i % 5 == 4:
                updated_id = f"{run}-{i - 2}"
                await documents.update_one(
                    {"id": {"$eq": updated_id}}, cast(BaseDocument, {"version": "2"})
                )
                print("update", updated_id, flush=True)


if __name__ == "__main__":
    asyncio.run(write_until_killed(sys.argv[1], sys.argv[2]))
