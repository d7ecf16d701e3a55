"""National transactions of payment by points (DRG/DIP): 4101A 医保结算清单信息上传.

The settlement list names the diagnoses and procedures a points case is grouped by (docs/points-payment.md).
HIS clients send its lists either beside `setlinfo` (`input.diseinfo`, `input.oprninfo`) or inside it
(`input.setlinfo.diseinfo`): both are read, the top level first.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.national import nodes
from gateway.national.calls import Context
from gateway.national.envelope import NationalError, to_date
from gateway.national.visits import same_person

Output = dict[str, Any]
# As many rows of each list as settlement keeps.
MAX_ROWS = 50
# settlement's names of a row's fields, by the national list they came from.
_NATIONAL_NAMES = {
    "diseinfo": {"dise_codg": "diag_code", "dise_name": "diag_name", "main": "maindiag_flag"},
    "oprninfo": {
        "oprn_codg": "oprn_oprt_code",
        "oprn_name": "oprn_oprt_name",
        "main": "main_oprn_flag",
        "oprn_date": "oprn_oprt_date",
    },
}
_ROW_FIELD = re.compile(r"^(input(?:\.setlinfo)?\.(diseinfo|oprninfo)\.\d+\.)(\w+)")


def _rows(data: dict[str, Any], setlinfo: dict[str, Any], name: str) -> tuple[Any, str]:
    """The list `name` and where it was found: beside setlinfo, else inside it (None when neither has it)."""
    for holder, where in ((data, f"input.{name}"), (setlinfo, f"input.setlinfo.{name}")):
        value = holder.get(name)
        if value is not None and value != "":
            return value, where
    return None, f"input.{name}"


def _in_national_terms(error: NationalError) -> NationalError:
    """A fault settlement found in a row (`input.diseinfo.0.dise_codg`) named by the row's national field."""
    match = _ROW_FIELD.match(error.message)
    if error.code != "INVALID_INPUT" or match is None:
        return error
    name = _NATIONAL_NAMES[match[2]].get(match[3], match[3])
    return NationalError(error.code, f"{match[1]}{name}{error.message[match.end() :]}")


async def settlement_list(ctx: Context, data: dict[str, Any]) -> Output:
    """4101A: the settlement's list of diagnoses and procedures, replacing the one it had (`revision` counts).

    Only the institution that made the settlement sends its list; a reversed settlement, or one of a year
    whose clearing is confirmed, takes none (settlement refuses them with their own codes).
    """
    raw = data.get("setlinfo")
    given = nodes.node(nodes.SettlementListInfo, raw, "input.setlinfo")
    setlinfo: dict[str, Any] = raw if isinstance(raw, dict) else {}
    diseinfo, dise_where = _rows(data, setlinfo, "diseinfo")
    if diseinfo is None:
        raise NationalError("INVALID_INPUT", f"{dise_where}: the node is required")
    diagnoses = nodes.node_list(nodes.ListDiagnosis, diseinfo, dise_where, max_items=MAX_ROWS)
    oprninfo, oprn_where = _rows(data, setlinfo, "oprninfo")
    procedures = nodes.node_list(nodes.ListProcedure, oprninfo or [], oprn_where, max_items=MAX_ROWS)
    body = {
        "diagnoses": [
            {"dise_codg": row.diag_code, "dise_name": row.diag_name, "main": row.maindiag_flag == "1"}
            for row in diagnoses
        ],
        "procedures": [
            {
                "oprn_codg": row.oprn_oprt_code,
                "oprn_name": row.oprn_oprt_name,
                "main": row.main_oprn_flag == "1",
                "oprn_date": to_date(row.oprn_oprt_date, field=f"{oprn_where}.{index}.oprn_oprt_date")
                if row.oprn_oprt_date
                else None,
            }
            for index, row in enumerate(procedures)
        ],
    }

    record = await ctx.call("settlement", "GET", f"/settlements/{given.setl_id}")
    ours = record["setlinfo"]
    if ours["fixmedins_code"] != ctx.fixmedins_code:  # an ops key sending for one institution
        raise NationalError(
            "SCOPE_FORBIDDEN", f"Settlement {given.setl_id} is not of institution {ctx.fixmedins_code}."
        )
    if given.mdtrt_id is not None and ours["mdtrt_id"] != given.mdtrt_id:
        raise NationalError(
            "MDTRT_ID_MISMATCH", f"Settlement {given.setl_id} is not of visit {given.mdtrt_id}."
        )
    if given.psn_no is not None:
        same_person(given.psn_no, ours["psn_no"], f"settlement {given.setl_id}")

    try:
        stored = await ctx.call(
            "settlement",
            "PUT",
            f"/settlements/{given.setl_id}/settlement-list",
            json=body,
            node="input.setlinfo",
            fields={"diagnoses": dise_where, "procedures": oprn_where},
        )
    except NationalError as exc:
        translated = _in_national_terms(exc)
        if translated is exc:
            raise
        raise translated from exc
    revision = int(stored["revision"])
    return {"setl_list_id": given.setl_id, "revision": revision, "replaced": revision > 1}
