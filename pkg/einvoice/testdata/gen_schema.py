# Writes einvoice-v1.1.schema.json: our own JSON Schema (2020-12) of NIC e-invoice schema v1.1, written
# from the reference (§5) independently of the Go struct tags, and used as the fuzz oracle.
# Optional fields also accept null (NIC's deserializer treats null as absent); required ones do not.
import json
TEXT = r'^[^"]*$'
DATE = r'^[0-3][0-9]/[0-1][0-9]/20[1-2][0-9]$'
STCD = r'^([1-9][0-9]?|0[1-9])$'
GSTIN = r'^[0-9]{2}[0-9A-Z]{13}$'
GSTIN_URP = r'^([0-9]{2}[0-9A-Z]{13}|URP)$'
def s(lo, hi, pat=None, enum=None):
    d = {"type": "string", "minLength": lo, "maxLength": hi}
    if pat: d["pattern"] = pat
    if enum: d["enum"] = enum
    return d
def t(lo, hi): return s(lo, hi, TEXT)
def n(lo, hi): return {"type": "number", "minimum": lo, "maximum": hi}
def i(lo, hi): return {"type": "integer", "minimum": lo, "maximum": hi}
def date(): return s(10, 10, DATE)
def ci(*words):  # case-insensitive alternation without inline flags
    alt = "|".join("".join("[%s%s]" % (c.upper(), c.lower()) if c.isalpha() else c for c in w) for w in words)
    return "^(%s)$" % alt
def o(props, req=()):
    out = {}
    for k, v in props.items():
        if k not in req:
            v = dict(v)
            if v.get("type") in ("string", "number", "integer", "object", "array"):
                v["type"] = [v["type"], "null"]
                if "enum" in v:
                    v["enum"] = v["enum"] + [None]
        out[k] = v
    return {"type": "object", "properties": out, "required": list(req), "additionalProperties": False}
def arr(item, lo=None, hi=None):
    d = {"type": "array", "items": item}
    if lo is not None: d["minItems"] = lo
    if hi is not None: d["maxItems"] = hi
    return d
AMT = n(0, 999999999999.99)
BIG = n(0, 99999999999999.99)
RATE = n(0, 999.999)
YN = s(1, 1, enum=["Y", "N"])
PIN = i(100000, 999999)
addr = lambda loc_hi=100: {"Addr1": t(1, 100), "Addr2": t(3, 100), "Loc": t(3, loc_hi), "Pin": PIN, "Stcd": s(1, 2, STCD)}
contact = {"Ph": s(6, 12, r'^[0-9]+$'), "Em": s(6, 100, r'^[a-zA-Z0-9+_.-]+@[a-zA-Z0-9.-]+$')}
seller = o({"Gstin": s(15, 15, GSTIN), "LglNm": t(3, 100), "TrdNm": t(3, 100), **addr(50), **contact},
           ["Gstin", "LglNm", "Addr1", "Loc", "Pin", "Stcd"])
buyer = o({"Gstin": s(3, 15, GSTIN_URP), "LglNm": t(3, 100), "TrdNm": t(3, 100), "Pos": s(1, 2, STCD), **addr(), **contact},
          ["Gstin", "LglNm", "Pos", "Addr1", "Loc", "Stcd"])
disp = o({"Nm": t(3, 100), **addr()}, ["Nm", "Addr1", "Loc", "Pin", "Stcd"])
ship = o({"Gstin": s(3, 15, GSTIN_URP), "LglNm": t(3, 100), "TrdNm": t(3, 100), **addr()}, ["LglNm", "Addr1", "Loc", "Pin", "Stcd"])
hsn = s(4, 8, r'^([0-9]{4}|[0-9]{6}|[0-9]{8})$'); hsn["not"] = {"pattern": r'^0+$'}
item = o({
    "SlNo": s(1, 6, r'^[0-9]+$'), "PrdDesc": t(3, 300), "IsServc": YN, "HsnCd": hsn, "Barcde": t(3, 30),
    "Qty": n(0, 9999999999.999), "FreeQty": n(0, 9999999999.999), "Unit": s(3, 8, r'^[A-Za-z]+$'),
    "UnitPrice": n(0, 999999999999.999), "TotAmt": AMT, "Discount": AMT, "PreTaxVal": AMT, "AssAmt": AMT,
    "GstRt": RATE, "IgstAmt": AMT, "CgstAmt": AMT, "SgstAmt": AMT, "CesRt": RATE, "CesAmt": AMT, "CesNonAdvlAmt": AMT,
    "StateCesRt": RATE, "StateCesAmt": AMT, "StateCesNonAdvlAmt": AMT, "OthChrg": AMT, "TotItemVal": AMT,
    "OrdLineRef": t(1, 50), "OrgCntry": s(2, 2, r'^[A-Za-z]+$'), "PrdSlNo": t(1, 20),
    "BchDtls": o({"Nm": t(3, 20), "ExpDt": date(), "WrDt": date()}, ["Nm"]),
    "AttribDtls": arr(o({"Nm": t(1, 100), "Val": t(1, 100)})),
}, ["SlNo", "IsServc", "HsnCd", "UnitPrice", "TotAmt", "AssAmt", "GstRt", "TotItemVal"])
val = o({k: BIG for k in ["AssVal", "CgstVal", "SgstVal", "IgstVal", "CesVal", "StCesVal", "Discount", "OthChrg", "TotInvVal", "TotInvValFc"]}
        | {"RndOffAmt": n(-99.99, 99.99)}, ["AssVal", "TotInvVal"])
pay = o({"Nm": t(1, 100), "AccDet": t(1, 18), "Mode": t(1, 18), "FinInsBr": t(1, 11), "PayTerm": t(1, 100), "PayInstr": t(1, 100),
         "CrTrn": t(1, 100), "DirDr": t(1, 100), "CrDay": i(0, 9999), "PaidAmt": BIG, "PaymtDue": BIG})
ref = o({"InvRm": t(3, 100),
         "DocPerdDtls": o({"InvStDt": date(), "InvEndDt": date()}, ["InvStDt", "InvEndDt"]),
         "PrecDocDtls": arr(o({"InvNo": s(1, 16, r'^[1-9a-zA-Z][0-9a-zA-Z/-]{1,15}$'), "InvDt": date(), "OthRefNo": t(1, 20)}, ["InvNo", "InvDt"])),
         "ContrDtls": arr(o({"RecAdvRefr": t(1, 20), "RecAdvDt": date(), "TendRefr": t(1, 20), "ContrRefr": t(1, 20), "ExtRefr": t(1, 20),
                             "ProjRefr": t(1, 20), "PORefr": t(1, 16), "PORefDt": date()}))})
addl = o({"Url": t(3, 100), "Docs": t(3, 1000), "Info": t(3, 1000)})
exp = o({"ShipBNo": t(1, 20), "ShipBDt": date(), "Port": s(2, 10, r'^[A-Za-z0-9]+$'), "RefClm": YN, "ForCur": s(3, 16, r'^[A-Za-z]+$'),
         "CntCode": s(2, 2, r'^[A-Z]{2}$'), "ExpDuty": AMT})
ewb = o({"TransId": s(15, 15, GSTIN), "TransName": t(3, 100), "TransMode": s(0, 1, enum=["", "1", "2", "3", "4"]), "Distance": i(0, 4000),
         "TransDocNo": s(1, 15, r'^[a-zA-Z0-9/-]+$'), "TransDocDt": date(), "VehNo": s(4, 20, r'^[A-Za-z0-9]+$'), "VehType": s(1, 1, enum=["R", "O"])},
        ["Distance"])
schema = o({
    "Version": s(1, 6),
    "TranDtls": o({"TaxSch": s(3, 10, enum=["GST"]), "SupTyp": s(3, 10, ci("B2B", "SEZWP", "SEZWOP", "EXPWP", "EXPWOP", "DEXP")),
                   "RegRev": YN, "EcmGstin": s(15, 15, GSTIN), "IgstOnIntra": YN}, ["TaxSch", "SupTyp"]),
    "DocDtls": o({"Typ": s(3, 3, ci("INV", "CRN", "DBN")), "No": s(1, 16, r'^[a-zA-Z1-9][a-zA-Z0-9/-]{0,15}$'), "Dt": date()}, ["Typ", "No", "Dt"]),
    "SellerDtls": seller, "BuyerDtls": buyer, "DispDtls": disp, "ShipDtls": ship,
    "ItemList": arr(item, 1, 1000), "ValDtls": val, "PayDtls": pay, "RefDtls": ref, "AddlDocDtls": arr(addl), "ExpDtls": exp, "EwbDtls": ewb,
}, ["Version", "TranDtls", "DocDtls", "SellerDtls", "BuyerDtls", "ItemList", "ValDtls"])
schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://irpgate.dev/schema/einvoice-v1.1.json",
          "title": "NIC e-invoice schema v1.1 (irpgate's own copy, used as a test oracle)", **schema}
json.dump(schema, open("einvoice-v1.1.schema.json", "w"), indent=1)
