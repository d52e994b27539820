"""Sign-up, sign-in, token refresh and logout. Unauthenticated, so each call is rate-limited per address."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from run_services.api.deps import ServicesDep, client_ip
from shared.auth.schemas import Credentials, GoogleSignIn, RefreshRequest, TokenResponse


async def throttle(request: Request, services: ServicesDep) -> None:
    await services.auth.throttle(client_ip(request))


Throttled = Annotated[None, Depends(throttle)]

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(body: Credentials, services: ServicesDep, _: Throttled) -> TokenResponse:
    return await services.auth.register(body.email, body.password)


@router.post("/login")
async def login(body: Credentials, services: ServicesDep, _: Throttled) -> TokenResponse:
    return await services.auth.login(body.email, body.password)


@router.post("/refresh")
async def refresh(body: RefreshRequest, services: ServicesDep, _: Throttled) -> TokenResponse:
    return await services.auth.refresh(body.refresh_token)


@router.post("/google")
async def google(body: GoogleSignIn, services: ServicesDep, _: Throttled) -> TokenResponse:
    return await services.auth.google_login(body.id_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, services: ServicesDep) -> Response:
    await services.auth.logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
