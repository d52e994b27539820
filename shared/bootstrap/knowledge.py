"""The knowledge services (files, uploads, vector stores, assistants, templates), built once per process.

The API's routes and chat doors reach them as `services.knowledge`; the reconciler's sweep builds the vector
store service alone with `build_vector_stores`."""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import firestore

from shared.assistants.service import AssistantService
from shared.auth.schemas import Principal
from shared.bootstrap.jobs import Jobs
from shared.catalog.catalog import Catalog
from shared.catalog.embeddings import EmbeddingCatalog
from shared.files.service import FileService
from shared.files.uploads import UploadService
from shared.knowledge.repository import KnowledgeRepository
from shared.knowledge.service import StoreNotFound, VectorStoreService
from shared.knowledge.store_files import StoreFiles
from shared.plans.offers import PlanOffers
from shared.settings import Settings
from shared.templates.service import TemplateService
from shared.workspaces.service import WorkspaceService


@dataclass(frozen=True)
class Knowledge:
    files: FileService
    uploads: UploadService
    stores: VectorStoreService
    assistants: AssistantService
    templates: TemplateService


def build_vector_stores(
    db: firestore.AsyncClient,
    jobs: Jobs,
    workspaces: WorkspaceService,
    catalog: EmbeddingCatalog,
    settings: Settings,
) -> VectorStoreService:
    repo = KnowledgeRepository(db, jobs.store)
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


def build_knowledge(
    db: firestore.AsyncClient,
    jobs: Jobs,
    workspaces: WorkspaceService,
    catalog: Catalog,
    embeddings: EmbeddingCatalog,
    offers: PlanOffers,
    settings: Settings,
) -> Knowledge:
    files = FileService(db, jobs.store, workspaces)
    stores = build_vector_stores(db, jobs, workspaces, embeddings, settings)

    async def readable_file(principal: Principal, file_id: str) -> object:
        return await files.get(principal, file_id)

    async def owners_store(principal: Principal, store_id: str) -> object:
        """The store must be the assistant's owner's: the workspace's for a workspace's assistant."""
        doc = await stores.readable(principal, store_id)
        if doc.get("workspace_id") != principal.workspace_id:
            raise StoreNotFound()
        return doc

    assistants = AssistantService(
        db,
        workspaces,
        catalog,
        offers,
        max_per_owner=settings.max_assistants,
        file_check=readable_file,
        store_check=owners_store,
    )
    return Knowledge(
        files=files,
        uploads=UploadService(db, jobs.store),
        stores=stores,
        assistants=assistants,
        templates=TemplateService(db, workspaces, settings.max_templates),
    )
