"""The vector store service, built the same way for the API's routes and the reconciler's sweep."""

from __future__ import annotations

from google.cloud import firestore

from shared.bootstrap.jobs import Jobs
from shared.catalog.embeddings import EmbeddingCatalog
from shared.files.service import FileService
from shared.knowledge.repository import KnowledgeRepository
from shared.knowledge.service import VectorStoreService
from shared.knowledge.store_files import StoreFiles
from shared.settings import Settings
from shared.workspaces.service import WorkspaceService


def build_vector_stores(
    db: firestore.AsyncClient,
    jobs: Jobs,
    workspaces: WorkspaceService,
    catalog: EmbeddingCatalog,
    settings: Settings,
) -> VectorStoreService:
    repo = KnowledgeRepository(db)
    store_files = StoreFiles(
        repo,
        FileService(db, jobs.store, workspaces),
        jobs.service,
        jobs.repo,
        settings.knowledge_max_file_tokens,
        settings.knowledge_max_store_files,
    )
    return VectorStoreService(
        repo,
        store_files,
        workspaces,
        catalog,
        settings.knowledge_embedding_model,
        settings.knowledge_max_stores,
    )
