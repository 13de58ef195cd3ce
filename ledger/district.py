"""Chongqing's district-level divisions (区县), where a unit (承建单位) stands: 26 市辖区, 8 县 and
4 自治县, keyed by their 6-digit 行政区划代码 (GB/T 2260), frozen as data.

A district is given by its code or its Chinese name; the ledger stores the code.
"""

from __future__ import annotations

from typing import NamedTuple

from ledger.i18n import _


class District(NamedTuple):
    code: str
    zh: str
    pinyin: str
    en: str
    kind: str  # 市辖区 | 县 | 自治县

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def _d(code: str, zh: str, pinyin: str, kind: str, peoples: str = "") -> District:
    english = {"市辖区": "District", "县": "County", "自治县": "Autonomous County"}[kind]
    return District(code, zh, pinyin, " ".join(filter(None, (pinyin, peoples, english))), kind)


DISTRICTS: tuple[District, ...] = (
    _d("500101", "万州区", "Wanzhou", "市辖区"),
    _d("500102", "涪陵区", "Fuling", "市辖区"),
    _d("500103", "渝中区", "Yuzhong", "市辖区"),
    _d("500104", "大渡口区", "Dadukou", "市辖区"),
    _d("500105", "江北区", "Jiangbei", "市辖区"),
    _d("500106", "沙坪坝区", "Shapingba", "市辖区"),
    _d("500107", "九龙坡区", "Jiulongpo", "市辖区"),
    _d("500108", "南岸区", "Nan'an", "市辖区"),
    _d("500109", "北碚区", "Beibei", "市辖区"),
    _d("500110", "綦江区", "Qijiang", "市辖区"),
    _d("500111", "大足区", "Dazu", "市辖区"),
    _d("500112", "渝北区", "Yubei", "市辖区"),
    _d("500113", "巴南区", "Banan", "市辖区"),
    _d("500114", "黔江区", "Qianjiang", "市辖区"),
    _d("500115", "长寿区", "Changshou", "市辖区"),
    _d("500116", "江津区", "Jiangjin", "市辖区"),
    _d("500117", "合川区", "Hechuan", "市辖区"),
    _d("500118", "永川区", "Yongchuan", "市辖区"),
    _d("500119", "南川区", "Nanchuan", "市辖区"),
    _d("500120", "璧山区", "Bishan", "市辖区"),
    _d("500151", "铜梁区", "Tongliang", "市辖区"),
    _d("500152", "潼南区", "Tongnan", "市辖区"),
    _d("500153", "荣昌区", "Rongchang", "市辖区"),
    _d("500154", "开州区", "Kaizhou", "市辖区"),
    _d("500155", "梁平区", "Liangping", "市辖区"),
    _d("500156", "武隆区", "Wulong", "市辖区"),
    _d("500229", "城口县", "Chengkou", "县"),
    _d("500230", "丰都县", "Fengdu", "县"),
    _d("500231", "垫江县", "Dianjiang", "县"),
    _d("500233", "忠县", "Zhongxian", "县"),
    _d("500235", "云阳县", "Yunyang", "县"),
    _d("500236", "奉节县", "Fengjie", "县"),
    _d("500237", "巫山县", "Wushan", "县"),
    _d("500238", "巫溪县", "Wuxi", "县"),
    _d("500240", "石柱土家族自治县", "Shizhu", "自治县", "Tujia"),
    _d("500241", "秀山土家族苗族自治县", "Xiushan", "自治县", "Tujia and Miao"),
    _d("500242", "酉阳土家族苗族自治县", "Youyang", "自治县", "Tujia and Miao"),
    _d("500243", "彭水苗族土家族自治县", "Pengshui", "自治县", "Miao and Tujia"),
)
BY_CODE: dict[str, District] = {d.code: d for d in DISTRICTS}
_BY_NAME: dict[str, District] = {d.zh: d for d in DISTRICTS}


def find_district(value: str) -> District | None:
    """The district a code (500103) or a Chinese name (渝中区) names; None for anything else."""
    return BY_CODE.get(value) or _BY_NAME.get(value)


def district_code(value: str) -> str:
    """The code of the district ``value`` names (its code or Chinese name), or ValueError: the one
    rule of every district field (ledger.actions) and option."""
    found = find_district(value)
    if found is None:
        raise ValueError(
            _(
                "{value!r} is not one of Chongqing's 38 districts and counties; give its "
                "6-digit code or its Chinese name, as `grant-ledger unit districts` lists them"
            ).format(value=value)
        )
    return found.code


def district_name(code: str | None, lang: str = "zh") -> str:
    """A stored code as people read it ("" for none; a code this build does not know, as it is)."""
    if not code:
        return ""
    found = BY_CODE.get(code)
    return found.label(lang) if found else code
