"""A local fake of SSLCommerz: the session API (records each order it was asked to collect) and the
validation API (answers what a test scripted for a val_id, or stalls to make the caller time out)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def sign(form: dict[str, str], password: str) -> str:
    """verify_sign as SSLCommerz documents it (written here independently of the code under test)."""
    fields = {k: form[k] for k in form["verify_key"].split(",")}
    fields["store_passwd"] = hashlib.md5(password.encode()).hexdigest()  # noqa: S324
    text = "&".join(f"{k}={fields[k]}" for k in sorted(fields))
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324


class FakeSslCommerz:
    def __init__(self, store_id: str, store_password: str) -> None:
        self.store_id = store_id
        self.store_password = store_password
        self.sessions: dict[str, dict[str, str]] = {}  # tran_id -> the session form
        self.validations: dict[str, dict[str, Any]] = {}  # val_id -> the validation answer
        self.stall: set[str] = set()  # val_ids whose validation never answers in time
        self.validation_calls: list[str] = []
        self.refuse_sessions = False  # answer every session request FAILED, with the provider's reason
        self.app = FastAPI()
        self.app.post("/gwprocess/v4/api.php")(self._session)
        self.app.get("/validator/api/validationserverAPI.php")(self._validate)

    def _credentials_ok(self, store_id: str | None, password: str | None) -> bool:
        return store_id == self.store_id and password == self.store_password

    async def _session(self, request: Request) -> Any:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if self.refuse_sessions or not self._credentials_ok(form.get("store_id"), form.get("store_passwd")):
            return {"status": "FAILED", "failedreason": "Store Credential Error Or Store is De-active"}
        self.sessions[form["tran_id"]] = form
        key = uuid.uuid4().hex
        return {"status": "SUCCESS", "sessionkey": key, "GatewayPageURL": f"https://sslcommerz.test/gw/{key}"}

    async def _validate(self, request: Request) -> Any:
        params = request.query_params
        if not self._credentials_ok(params.get("store_id"), params.get("store_passwd")):
            return JSONResponse({"status": "INVALID_TRANSACTION"}, status_code=200)
        val_id = params.get("val_id", "")
        self.validation_calls.append(val_id)
        if val_id in self.stall:
            await asyncio.sleep(2)  # the tests give the client 1 s
        return self.validations.get(val_id, {"status": "INVALID_TRANSACTION"})

    def pay(
        self, tran_id: str, amount: str | None = None, currency: str | None = None, risk_level: str = "0"
    ) -> dict[str, str]:
        """Script a payment of a session (paid as asked unless amount/currency say otherwise; `risk_level`
        "1" is a payment SSLCommerz flags as risky) and return the IPN form SSLCommerz would post, signed
        with the store password."""
        session = self.sessions[tran_id]
        val_id = "val_" + uuid.uuid4().hex[:16]
        paid_amount = amount or session["total_amount"]
        paid_currency = currency or session["currency"]
        self.validations[val_id] = {
            "status": "VALID",
            "tran_id": tran_id,
            "val_id": val_id,
            "amount": paid_amount,
            "currency": paid_currency,
            "currency_type": paid_currency,
            "currency_amount": paid_amount,
            "risk_level": risk_level,
            "risk_title": "Safe" if risk_level == "0" else "Risky transaction, verify before delivering",
        }
        form = {
            "status": "VALID",
            "tran_id": tran_id,
            "val_id": val_id,
            "amount": paid_amount,
            "currency": paid_currency,
            "store_id": self.store_id,
            "bank_tran_id": hashlib.sha256(val_id.encode()).hexdigest()[:12],
        }
        form["verify_key"] = ",".join(sorted(form))
        form["verify_sign"] = sign(form, self.store_password)
        return form
