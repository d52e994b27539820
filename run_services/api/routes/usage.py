"""GET /v1/usage: spend by day, model, feature and member, as JSON or CSV (`?format=csv` or
`Accept: text/csv`). Without `workspace_id`: your own usage. With it: the workspace's usage if you are an
admin or owner there, else your own usage in it; 404 if you are not a member."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from run_services.api.deps import CurrentPrincipal, ServicesDep, WorkspacesDep
from shared.clock import now
from shared.ledger.wallet_ids import shard_wallets, workspace_wallet_base
from shared.usage import report as usage_report
from shared.workspaces.schemas import at_least

router = APIRouter(prefix="/v1/usage", tags=["usage"])


@router.get("", response_model=usage_report.UsageReport)
async def get_usage(
    principal: CurrentPrincipal,
    services: ServicesDep,
    workspaces: WorkspacesDep,
    start: Annotated[
        dt.date | None, Query(description="First UTC day (YYYY-MM-DD); default 29 days before end")
    ] = None,
    end: Annotated[dt.date | None, Query(description="Last UTC day, inclusive; default today")] = None,
    workspace_id: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
    accept: Annotated[str, Header()] = "",
) -> Response | usage_report.UsageReport:
    first, last = usage_report.date_range(start, end, now().date(), services.settings.usage_max_days)
    user_id: str | None = principal.user_id
    wallets = None
    scope = f"user:{principal.user_id}"
    if workspace_id is not None:
        me = await workspaces.service.membership(principal.user_id, workspace_id)
        shards = await workspaces.service.shard_count(workspace_id)
        base = workspace_wallet_base(workspace_id)  # free cache hits hold nothing: recorded on the base id
        wallets = [base, *shard_wallets(base, shards)]
        if at_least(me["role"], "admin"):
            user_id, scope = None, f"workspace:{workspace_id}"
        else:
            scope = f"workspace:{workspace_id}:user:{principal.user_id}"
    sums = usage_report.Totals()
    async for record in services.usage.records(first, last, user_id, wallets, usage_report.FIELDS):
        sums.add(record)
    if format == "csv" or (format is None and "text/csv" in accept):
        return Response(
            sums.csv(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="usage-{first}-{last}.csv"'},
        )
    return sums.report(scope, first, last)
