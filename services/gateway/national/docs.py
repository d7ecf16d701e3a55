"""What /docs shows of the national interface: one valid message per infno and the answer's schema per infno."""

from __future__ import annotations

from typing import Any

from common.national import CLR_TYPE, MDTRT_CERT_TYPE, MED_TYPE, described

# A person whose certno passes its GB 11643 check, at the institution of every example.
CERTNO = "420102198005011239"
PSN_NO = "P4201000000000000001"
HOSPITAL, PHARMACY = "H42010000001", "P42010000001"
MDTRT_ID, SETL_ID = "M20260302000000000001", "S20260302000000000001"

ENVELOPE: dict[str, Any] = {
    "msgid": "H42010000001202603020930000001",
    "mdtrtarea_admvs": "420100",
    "insuplc_admdvs": "420100",
    "recer_sys_code": "YBJ",
    "dev_no": "",
    "dev_safe_info": "",
    "cainfo": "",
    "signtype": "",
    "infver": "V1.0",
    "opter_type": "1",
    "opter": "001",
    "opter_name": "张收费",
    "inf_time": "2026-03-02 09:30:00",
    "fixmedins_code": HOSPITAL,
    "fixmedins_name": "武汉市第一医院",
    "sign_no": "20260302093000000000000001",
}
FEE_LINE = {
    "feedetl_sn": "1",
    "mdtrt_id": MDTRT_ID,
    "psn_no": PSN_NO,
    "chrg_bchno": "B20260302001",
    "med_list_codg": "XA01BAA0001",
    "medins_list_codg": "YP-0001",
    "det_item_fee_sumamt": "25.00",
    "cnt": "2",
    "pric": "12.5",
    "fee_ocur_time": "2026-03-02 09:40:00",
    "drug_trac_codg": "81234567890123456789",
}

# infno → the transaction's `input`, as a HIS or POS sends it.
INPUTS: dict[str, dict[str, Any]] = {
    "9001": {"signIn": {"opter_no": "001", "mac": "00-16-EA-AE-3C-40", "ip": "10.1.2.3"}},
    "9002": {"signOut": {"sign_no": "20260302093000000000000001", "opter_no": "001"}},
    "1101": {
        "data": {
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": CERTNO,
            "card_sn": "",
            "psn_cert_type": "01",
            "certno": CERTNO,
            "psn_name": "王五",
        }
    },
    "2001": {
        "data": {
            "psn_no": PSN_NO,
            "insutype": "310",
            "fixmedins_code": HOSPITAL,
            "med_type": "21",
            "begntime": "2026-03-02 10:00:00",
            "endtime": "",
            "dise_codg": "J18.900",
            "dise_name": "肺炎",
        }
    },
    "2102": {
        "data": {
            "psn_no": PSN_NO,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": CERTNO,
            "begntime": "2026-03-02 10:05:00",
            "medfee_sumamt": "25.00",
            "insutype": "310",
            "psn_setlway": "01",
            "acct_used_flag": "1",
            "medins_setl_id": "P42010000001-20260302-000456",
        },
        "drugdetail": [
            {
                "feedetl_sn": "1",
                "rx_circ_flag": "0",
                "fee_ocur_time": "2026-03-02 10:05:00",
                "med_list_codg": "XA01BAA0001",
                "medins_list_codg": "YP-0001",
                "det_item_fee_sumamt": "25.00",
                "cnt": "2",
                "pric": "12.5",
                "drug_trac_codg": "81234567890123456789",
            }
        ],
    },
    "2103": {"data": {"setl_id": SETL_ID, "psn_no": PSN_NO}},
    "2201": {
        "data": {
            "psn_no": PSN_NO,
            "insutype": "310",
            "begntime": "2026-03-02 09:35:00",
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": CERTNO,
            "ipt_otp_no": "MZ2026030200012",
            "atddr_no": "D001",
            "dr_name": "李医生",
            "dept_code": "A03",
            "dept_name": "内科",
            "caty": "A03",
        }
    },
    "2202": {"data": {"psn_no": PSN_NO, "mdtrt_id": MDTRT_ID, "ipt_otp_no": "MZ2026030200012"}},
    "2203": {
        "mdtrtinfo": {
            "mdtrt_id": MDTRT_ID,
            "psn_no": PSN_NO,
            "med_type": "11",
            "begntime": "2026-03-02 09:35:00",
            "main_cond_dscr": "咳嗽三天",
            "dise_codg": "J06.900",
            "dise_name": "急性上呼吸道感染",
        },
        "diseinfo": [
            {
                "diag_type": "1",
                "diag_srt_no": "1",
                "diag_code": "J06.900",
                "diag_name": "急性上呼吸道感染",
                "maindiag_flag": "1",
            }
        ],
    },
    "2204": {"feedetail": [FEE_LINE]},
    "2205": {"data": {"mdtrt_id": MDTRT_ID, "chrg_bchno": "0000", "psn_no": PSN_NO}},
    "2206": {
        "data": {
            "psn_no": PSN_NO,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": CERTNO,
            "med_type": "11",
            "medfee_sumamt": "25.00",
            "psn_setlway": "01",
            "mdtrt_id": MDTRT_ID,
            "chrg_bchno": "B20260302001",
            "insutype": "310",
            "acct_used_flag": "1",
        }
    },
    "2207": {
        "data": {
            "psn_no": PSN_NO,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": CERTNO,
            "med_type": "11",
            "medfee_sumamt": "25.00",
            "psn_setlway": "01",
            "mdtrt_id": MDTRT_ID,
            "chrg_bchno": "B20260302001",
            "insutype": "310",
            "acct_used_flag": "1",
            "medins_setl_id": "H42010000001-20260302-000123",
        }
    },
    "2208": {"data": {"setl_id": SETL_ID, "mdtrt_id": MDTRT_ID, "psn_no": PSN_NO}},
    "2301": {
        "feedetail": [
            {
                **FEE_LINE,
                "med_list_codg": "001102000010000",
                "fee_ocur_time": "2026-03-03 08:00:00",
                "det_item_fee_sumamt": "60.00",
                "cnt": "1",
                "pric": "60",
                "drug_trac_codg": "",
            }
        ]
    },
    "2302": {"data": {"feedetl_sn": "1", "mdtrt_id": MDTRT_ID, "psn_no": PSN_NO}},
    "2303": {
        "data": {
            "psn_no": PSN_NO,
            "mdtrt_id": MDTRT_ID,
            "medfee_sumamt": "60.00",
            "insutype": "310",
            "acct_used_flag": "0",
            "mid_setl_flag": "0",
        }
    },
    "2304": {
        "data": {
            "psn_no": PSN_NO,
            "mdtrt_id": MDTRT_ID,
            "medfee_sumamt": "60.00",
            "insutype": "310",
            "acct_used_flag": "0",
            "mid_setl_flag": "0",
            "medins_setl_id": "H42010000001-ZY-000045",
        }
    },
    "2305": {"data": {"setl_id": SETL_ID, "mdtrt_id": MDTRT_ID, "psn_no": PSN_NO}},
    "2401": {
        "mdtrtinfo": {
            "psn_no": PSN_NO,
            "insutype": "310",
            "med_type": "21",
            "begntime": "2026-03-02 10:00:00",
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": CERTNO,
            "ipt_no": "ZY2026030200045",
            "dise_codg": "J18.900",
            "dise_name": "肺炎",
            "adm_dept_codg": "A03",
            "adm_dept_name": "内科",
        },
        "diseinfo": [
            {
                "psn_no": PSN_NO,
                "diag_type": "1",
                "maindiag_flag": "1",
                "diag_srt_no": "1",
                "diag_code": "J18.900",
                "diag_name": "肺炎",
            }
        ],
    },
    "2402": {
        "dscginfo": {
            "mdtrt_id": MDTRT_ID,
            "psn_no": PSN_NO,
            "insutype": "310",
            "endtime": "2026-03-09 10:00:00",
            "dise_codg": "J18.900",
            "dise_name": "肺炎",
            "dscg_way": "1",
        },
        "diseinfo": [
            {
                "mdtrt_id": MDTRT_ID,
                "psn_no": PSN_NO,
                "diag_type": "1",
                "maindiag_flag": "1",
                "diag_srt_no": "1",
                "diag_code": "J18.900",
                "diag_name": "肺炎",
            }
        ],
    },
    "2403": {
        "adminfo": {
            "mdtrt_id": MDTRT_ID,
            "psn_no": PSN_NO,
            "med_type": "21",
            "dise_codg": "J15.900",
            "dise_name": "细菌性肺炎",
        },
        "diseinfo": [],
    },
    "2404": {"data": {"mdtrt_id": MDTRT_ID, "psn_no": PSN_NO}},
    "2405": {"data": {"mdtrt_id": MDTRT_ID, "psn_no": PSN_NO}},
    "2601": {"data": {"psn_no": PSN_NO, "omsgid": "H42010000001202603020930000007", "oinfno": "2207"}},
    "3101": {
        "data": {
            "psn_no": PSN_NO,
            "insutype": "310",
            "med_type": "11",
            "begntime": "2026-03-02 09:35:00",
            "mdtrt_id": MDTRT_ID,
            "dise_codg": "J06.900",
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": "XA01BAA0001",
                    "cnt": "2",
                    "pric": "12.5",
                    "det_item_fee_sumamt": "25.00",
                    "fee_ocur_time": "2026-03-02 09:40:00",
                }
            ],
        }
    },
    "3102": {
        "data": {
            "psn_no": PSN_NO,
            "insutype": "310",
            "med_type": "21",
            "begntime": "2026-03-02 10:00:00",
            "mdtrt_id": MDTRT_ID,
            "dise_codg": "J18.900",
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": "001102000010000",
                    "cnt": "1",
                    "pric": "60",
                    "det_item_fee_sumamt": "60.00",
                    "fee_ocur_time": "2026-03-03 08:00:00",
                }
            ],
        }
    },
    "3201": {
        "data": {
            "insutype": "310",
            "clr_type": "11",
            "setl_optins": "420100",
            "stmt_begndate": "2026-03-01",
            "stmt_enddate": "2026-03-31",
            "medfee_sumamt": "25.00",
            "fund_pay_sumamt": "0.00",
            "acct_pay": "25.00",
            "fixmedins_setl_cnt": 1,
        }
    },
    "3202": {
        "data": {"setl_optins": "420100", "stmt_begndate": "2026-03-01", "stmt_enddate": "2026-03-31"},
        "details": [
            {
                "setl_id": SETL_ID,
                "medins_setl_id": "H42010000001-20260302-000123",
                "medfee_sumamt": "25.00",
                "fund_pay_sumamt": "0.00",
                "acct_pay": "25.00",
            }
        ],
    },
    "3505": {
        "selinfo": {
            "med_list_codg": "XA01BAA0001",
            "fixmedins_hilist_id": "YP-0001",
            "medins_prod_sel_no": "SALE-20260302-0001",
            "finl_trns_pric": "12.50",
            "sel_retn_cnt": "2",
            "sel_retn_time": "2026-03-02 10:05:00",
            "drugtracinfo": [
                {"drug_trac_codg": "81234567890123456789"},
                {"drug_trac_codg": "81234567890123456790"},
            ],
        }
    },
    "4101A": {
        "setlinfo": {
            "setl_id": SETL_ID,
            "mdtrt_id": MDTRT_ID,
            "psn_no": PSN_NO,
            "fixmedins_code": HOSPITAL,
            "fixmedins_name": "武汉市第一医院",
            "medcasno": "BA2026030200045",
            "ipt_med_type": "1",
            "dscg_way": "1",
        },
        "diseinfo": [
            {"diag_type": "1", "diag_code": "K80.100", "diag_name": "胆囊结石伴胆囊炎", "maindiag_flag": "1"},
            {"diag_type": "1", "diag_code": "E11.900", "diag_name": "2型糖尿病", "maindiag_flag": "0"},
        ],
        "oprninfo": [
            {
                "oprn_oprt_type": "1",
                "oprn_oprt_code": "51.2300",
                "oprn_oprt_name": "腹腔镜胆囊切除术",
                "main_oprn_flag": "1",
                "oprn_oprt_date": "2026-03-02 14:00:00",
                "anst_way": "01",
                "oper_dr_name": "李医生",
                "anst_dr_name": "赵医生",
            }
        ],
    },
    "5201": {
        "data": {
            "psn_no": PSN_NO,
            "begntime": "2026-03-01 00:00:00",
            "endtime": "2026-03-31 23:59:59",
            "med_type": "",
            "mdtrt_id": "",
        }
    },
    "5203": {"data": {"psn_no": PSN_NO, "setl_id": "", "mdtrt_id": MDTRT_ID}},
    "5204": {"data": {"psn_no": PSN_NO, "setl_id": "", "mdtrt_id": MDTRT_ID}},
    "5206": {"data": {"psn_no": PSN_NO, "cum_ym": "202603"}},
}
# The institution each example is sent by, where it is not the hospital.
SENDER = {"2102": PHARMACY, "2103": PHARMACY, "3505": PHARMACY}


def _s(description: str) -> dict[str, Any]:
    return {"type": ["string", "null"], "description": description}


def _obj(title: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "title": title, "properties": properties}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _strings(**fields: str) -> dict[str, Any]:
    return {name: _s(description) for name, description in fields.items()}


SETLINFO = _strings(
    setl_id="结算ID",
    mdtrt_id="就诊ID",
    psn_no="人员编号",
    psn_name="人员姓名",
    psn_cert_type="人员证件类型 (01 居民身份证)",
    certno="证件号码",
    gend="性别 1 男 2 女",
    insutype="险种类型",
    med_type="医疗类别",
    setl_time="结算时间 yyyy-MM-dd HH:mm:ss",
    medfee_sumamt="医疗费总额",
    fulamt_ownpay_amt="全自费金额",
    overlmt_selfpay="超限价自费费用",
    preselfpay_amt="先行自付金额",
    inscp_scp_amt="符合政策范围金额",
    act_pay_dedc="实际支付起付线",
    hifp_pay="基本医疗保险统筹基金支出",
    hifmi_pay="居民大病保险资金支出",
    hifob_pay="职工大额医疗费用补助基金支出",
    maf_pay="医疗救助基金支出",
    fund_pay_sumamt="基金支付总额",
    psn_part_amt="个人负担总金额",
    acct_pay="个人账户支出",
    acct_mulaid_pay="个人账户共济支付金额",
    psn_cash_pay="个人现金支出",
    balc="余额",
    medins_setl_id="医药机构结算ID",
)
SETLINFO["age"] = {"type": "integer", "description": "年龄 on the day of the settlement"}
SETLDETAIL = _list(
    _obj(
        "setldetail",
        _strings(fund_pay_type="基金支付类型", fund_pay_type_name="名称", fund_payamt="基金支付金额"),
    )
)
SETTLEMENT = _obj(
    "settlement",
    {"setlinfo": _obj("setlinfo", SETLINFO), "setldetail": SETLDETAIL, "warnings": _list({"type": "object"})},
)
REVERSAL = _obj(
    "reversal",
    {
        "setlinfo": _obj(
            "setlinfo",
            _strings(
                setl_id="撤销的结算ID",
                init_setl_id="原结算ID",
                mdtrt_id="就诊ID",
                psn_no="人员编号",
                setl_time="撤销时间",
                medfee_sumamt="医疗费总额 (负)",
                fund_pay_sumamt="基金支付 (负)",
                acct_pay="个人账户 (负)",
                acct_mulaid_pay="共济 (负)",
                psn_cash_pay="现金 (负)",
                balc="余额",
            ),
        )
    },
)
MDTRTINFO = _obj(
    "mdtrtinfo",
    _strings(
        mdtrt_id="就诊ID",
        psn_no="人员编号",
        fixmedins_code="定点医药机构编号",
        insutype="险种类型",
        med_type="医疗类别",
        begntime="开始时间",
        endtime="结束(出院)时间",
        dise_codg="病种编码",
        dise_name="病种名称",
        ipt_otp_no="住院/门诊号",
        dscg_way="离院方式",
        status="open | settled | cancelled",
    ),
)
FEE_RESULT = _obj(
    "result",
    _strings(
        feedetl_sn="费用明细流水号",
        mdtrt_id="就诊ID",
        det_item_fee_sumamt="明细项目费用总额",
        cnt="数量",
        pric="单价",
        chrgitm_lv="收费项目等级",
        selfpay_prop="自付比例",
        fulamt_ownpay_amt="全自费金额",
        overlmt_amt="超限价金额",
        preselfpay_amt="先行自付金额",
        inscp_scp_amt="符合政策范围金额",
        memo="说明 (NOT_IN_CATALOG, ...)",
    ),
)
WITHDRAWN = _obj("data", {"mdtrt_id": _s("就诊ID"), "withdrawn": _list(_s("撤销的费用明细流水号"))})
REVIEW = _obj(
    "review",
    {
        "result": _list(
            _obj(
                "result",
                _strings(
                    jr_id="违规标识",
                    rule_id="规则ID",
                    rule_name="规则名称",
                    vola_cont="违规内容",
                    vola_amt="违规金额",
                    sev_deg="严重程度 1 明确违规 2 高度可疑 3 轻度可疑",
                    feedetl_sn="费用明细流水号",
                    mdtrt_id="就诊ID",
                    psn_no="人员编号",
                ),
            )
        )
    },
)

# infno → the schema of the answer's `output`.
OUTPUTS: dict[str, dict[str, Any]] = {
    "9001": _obj(
        "9001", {"signinoutb": _obj("signinoutb", _strings(sign_time="签到时间", sign_no="签到编号"))}
    ),
    "9002": _obj("9002", {"signoutoutb": _obj("signoutoutb", _strings(sign_time="签退时间"))}),
    "1101": _obj(
        "1101",
        {
            "baseinfo": _obj(
                "baseinfo",
                {
                    **_strings(
                        psn_no="人员编号",
                        psn_name="人员姓名",
                        psn_cert_type="人员证件类型",
                        certno="证件号码",
                        gend="性别",
                        brdy="出生日期",
                        insuplc_admdvs="参保地医保区划",
                        death_date="死亡日期",
                    ),
                    "age": {"type": "integer", "description": "年龄"},
                },
            ),
            "insuinfo": _list(
                _obj(
                    "insuinfo",
                    _strings(
                        insutype="险种类型",
                        psn_type="人员类别 11 在职 21 退休",
                        psn_insu_stas="参保状态 1 正常 2 暂停 4 终止",
                        psn_insu_date="参保日期",
                        paus_insu_date="暂停参保日期",
                        benefit_start_date="待遇开始日期 (等待期后)",
                        balc="个人账户余额",
                        emp_code="单位编号",
                        insuplc_admdvs="参保地",
                    ),
                )
            ),
            "idetinfo": _list(_obj("idetinfo", _strings(psn_idet_type="人员身份类别 (医疗救助)"))),
            "eligibility": _obj(
                "eligibility",
                {
                    "eligible": {"type": "boolean"},
                    **_strings(insutype="险种", reason="原因"),
                    "waiting_days": {"type": ["integer", "null"]},
                },
            ),
        },
    ),
    "2001": _obj(
        "2001",
        {
            "trtinfo": _list(
                _obj(
                    "trtinfo",
                    {
                        **_strings(
                            psn_no="人员编号",
                            insutype="险种类型",
                            fund_pay_type="基金支付类型",
                            trt_enjymnt_flag="待遇享受标志 1 享受 0 不享受",
                            trt_chk_rslt="检查结果 (NO_COVERAGE, SUSPENDED, WAITING_PERIOD, DECEASED)",
                            begndate="待遇开始日期",
                        ),
                        "waiting_days": {"type": "integer", "description": "等待期剩余天数"},
                    },
                )
            )
        },
    ),
    "2102": SETTLEMENT,
    "2103": REVERSAL,
    "2201": _obj(
        "2201", {"data": _obj("data", _strings(mdtrt_id="就诊ID", psn_no="人员编号", ipt_otp_no="门诊号"))}
    ),
    "2202": _obj(
        "2202", {"data": _obj("data", _strings(mdtrt_id="就诊ID", psn_no="人员编号", status="cancelled"))}
    ),
    "2203": _obj("2203", {"mdtrtinfo": MDTRTINFO}),
    "2204": _obj("2204", {"result": _list(FEE_RESULT)}),
    "2205": _obj("2205", {"data": WITHDRAWN}),
    "2206": SETTLEMENT,
    "2207": SETTLEMENT,
    "2208": REVERSAL,
    "2301": _obj("2301", {"result": _list(FEE_RESULT)}),
    "2302": _obj("2302", {"data": WITHDRAWN}),
    "2303": SETTLEMENT,
    "2304": SETTLEMENT,
    "2305": REVERSAL,
    "2401": _obj(
        "2401", {"data": _obj("data", _strings(mdtrt_id="就诊ID", psn_no="人员编号", ipt_no="住院号"))}
    ),
    "2402": _obj("2402", {"dscginfo": MDTRTINFO}),
    "2403": _obj("2403", {"adminfo": MDTRTINFO}),
    "2404": _obj(
        "2404", {"data": _obj("data", _strings(mdtrt_id="就诊ID", psn_no="人员编号", status="cancelled"))}
    ),
    "2405": _obj("2405", {"data": MDTRTINFO}),
    "2601": _obj(
        "2601",
        {
            "data": _obj(
                "data",
                {
                    **_strings(
                        omsgid="原发送方报文ID",
                        oinfno="原交易编号",
                        result="what was done",
                        setl_id="原结算ID",
                        reversal_setl_id="撤销结算ID",
                        mdtrt_id="就诊ID",
                    ),
                    "undone": {
                        "type": "boolean",
                        "description": "true when the message's effect no longer stands",
                    },
                },
            )
        },
    ),
    "3101": REVIEW,
    "3102": REVIEW,
    "3201": _obj(
        "3201",
        {
            "data": _obj(
                "data",
                _strings(
                    setl_optins="结算经办机构",
                    stmt_rslt="对账结果 0 平 1 不平",
                    stmt_rslt_dscr="对账结果说明",
                ),
            ),
            "ours": {"type": "object"},
            "differences": {"type": "object"},
        },
    ),
    "3202": _obj(
        "3202",
        {
            "data": _obj(
                "data",
                {
                    **_strings(setl_optins="结算经办机构", stmt_rslt="0 平 1 不平", stmt_rslt_dscr="说明"),
                    "matched": {"type": "integer"},
                },
            ),
            "differing": _list({"type": "object"}),
            "only_ours": _list({"type": "object"}),
            "only_theirs": _list({"type": "object"}),
        },
    ),
    "3505": _obj(
        "3505", {"data": {"type": "object", "description": "the sale as recorded, with its price light"}}
    ),
    "4101A": _obj(
        "4101A",
        {
            **_strings(setl_list_id="结算清单ID (the settlement's setl_id)"),
            "revision": {"type": "integer", "description": "the list's revision: 1 the first upload"},
            "replaced": {"type": "boolean", "description": "true when it replaced a list uploaded before"},
        },
    ),
    "5201": _obj("5201", {"mdtrtinfo": _list(MDTRTINFO)}),
    "5203": _obj(
        "5203",
        {
            "setlinfo": _obj(
                "setlinfo",
                {**SETLINFO, **_strings(setl_stas="settled | reversed", reversal_setl_id="撤销结算ID")},
            ),
            "setldetail": SETLDETAIL,
        },
    ),
    "5204": _obj(
        "5204",
        {
            "output": _list(
                _obj(
                    "feedetail",
                    _strings(
                        mdtrt_id="就诊ID",
                        feedetl_sn="费用明细流水号",
                        med_list_codg="医疗目录编码",
                        medins_list_codg="机构目录编码",
                        cnt="数量",
                        pric="单价",
                        det_item_fee_sumamt="金额",
                        fee_ocur_time="费用发生时间",
                        chrg_bchno="收费批次号",
                    ),
                )
            )
        },
    ),
    "5206": _obj(
        "5206",
        {
            "cuminfo": _list(
                _obj(
                    "cuminfo",
                    _strings(
                        insutype="险种",
                        year="年度",
                        cum_type_code="累计类型代码",
                        cum_type_name="名称",
                        cum="累计值",
                    ),
                )
            )
        },
    ),
}

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "national answer 出参",
    "required": ["infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"],
    "properties": {
        "infcode": {"type": "string", "description": '交易状态码 "0" 成功, "-1" 失败'},
        "inf_refmsgid": {"type": "string", "description": "接收方报文ID"},
        "refmsg_time": {"type": "string", "description": "接收报文时间 yyyyMMddHHmmssSSS"},
        "respond_time": {"type": "string", "description": "响应报文时间 yyyyMMddHHmmssSSS"},
        "err_msg": {"type": ["string", "null"], "description": '"[CODE] message" on failure, else null'},
        "output": {
            "description": "交易输出: by infno (each schema's title names its infno); {} on failure",
            "anyOf": [
                schema if schema.get("title") == infno else {**schema, "title": infno}
                for infno, schema in OUTPUTS.items()
            ],
        },
    },
}


def request_examples(names: dict[str, str]) -> dict[str, Any]:
    """One valid message per supported infno, for the request body's `examples`."""
    return {
        infno: {
            "summary": f"{infno} {names[infno]}",
            "value": {
                "infno": infno,
                **ENVELOPE,
                "msgid": f"{SENDER.get(infno, HOSPITAL)}2026030209300000{index:02d}",
                "fixmedins_code": SENDER.get(infno, HOSPITAL),
                "input": INPUTS[infno],
            },
        }
        for index, infno in enumerate(names)
    }


DESCRIPTION = (
    'The 定点医药机构接口规范 envelope. `infcode` "0" is success; "-1" a failure with `err_msg` "[CODE] message": '
    "`[INVALID_INPUT] input.<node>.<field>: ...` for a fault in the message, the platform's stable code for a "
    "business refusal (VISIT_SETTLED names the setl_id). Nothing is written on any failure. `msgid` is idempotent "
    "per API key: the same message again gets its original answer; another message under a used msgid gets "
    "MSGID_CONFLICT. Envelope fields may be strings or numbers, `input` an object or a JSON string holding one; "
    "the body UTF-8, GBK or GB18030. Codes: med_type "
    + described(MED_TYPE)
    + "; mdtrt_cert_type "
    + described(MDTRT_CERT_TYPE)
    + "; clr_type "
    + described(CLR_TYPE)
    + ". A HIS that lost an answer asks 5203 by mdtrt_id, or undoes the message with 2601 by its msgid."
)
