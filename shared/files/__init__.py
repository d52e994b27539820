"""Files (OpenAI's Files API): bytes in the bucket under the owner's prefix, metadata in `files/{id}`."""
