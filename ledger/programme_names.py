"""Each shipped policy version's date in force and its programmes' names (zh, en), by file
name: a reading command names a programme from these without parsing the policy files
(``ledger.labels``). Written by ``python -m ledger.policy_files`` from ``ledger/policy/``;
a test holds it equal to them."""

from datetime import date

SHIPPED = {
    "v1-2023.toml": (
        date(2023, 3, 15),
        {
            "district_base": (
                "区级高技能人才培训基地",
                "district high-skill training base",
            ),
            "training_institute": (
                "技工院校职业训练院",
                "technical-school vocational training institute",
            ),
            "municipal_base_funded": (
                "市级高技能人才培训基地（资金补助类）",
                "municipal high-skill training base (funded)",
            ),
            "municipal_base_named": (
                "市级高技能人才培训基地（命名支持类）",
                "municipal high-skill training base (named)",
            ),
            "national_base": (
                "国家级高技能人才培训基地",
                "national high-skill training base",
            ),
        },
    ),
}
