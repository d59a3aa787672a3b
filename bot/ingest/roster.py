"""The roster of one text: the people it names and every short form it uses for them.

Real articles name a person once in full (`北京大学景观设计学研究院副院长李迪华`, `大卫·保罗·戈德曼`,
`蔡师傅（蔡卓毅）`, `李怀宇（简称“李”，下同）`) and then call them by a short form: a surname with a title
(`刘老师`, `夏总`), a given name (`雨森`), the last part of a transliterated name (`戈德曼`), a single
surname (`葛：`), a nickname given in brackets. `Roster.resolve` maps such a form to the full name,
and only when exactly one person fits: two people who share a surname are never merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.ingest.names import (
    COMPOUND_SURNAMES,
    SURNAMES,
    TITLE_PATTERN,
    common_word,
    known_word,
    looks_like_name,
    role_before,
    surname_of,
)

TRANSLITERATION = (
    "阿埃艾爱安昂奥澳巴芭白拜班邦保葆鲍贝本比彼毕宾波玻伯勃博布步查柴察昌楚川茨达大戴丹道得德邓迪蒂底丁东杜敦多"
    "厄俄鄂恩尔法凡方菲斐费芬丰冯夫弗伏福富盖甘冈高戈哥格葛根古瓜圭哈海汉罕豪浩赫黑亨宏洪侯胡华怀霍基吉加嘉贾杰捷"
    "金津卡凯坎康考柯科可克肯库夸奎昆拉莱赖兰郎朗劳勒雷蕾累冷黎里理丽利莉栗连莲列林琳玲凌刘留柳龙隆卢鲁路露伦罗洛"
    "吕马玛迈麦曼芒毛梅美门蒙孟米密敏明缪摩莫默姆木穆那纳娜奈南楠内尼妮涅宁纽努诺欧帕派潘庞培佩彭皮匹平珀普奇齐"
    "乔切钦琴青琼丘萨塞赛桑瑟森沙莎山尚绍舍申什施史士舒斯丝松苏索塔泰坦汤唐陶特滕提田汀廷通图托瓦万旺威韦维温文"
    "沃乌伍武西希锡席夏辛欣休秀雅亚扬耶伊依因英尤约泽扎詹珍兹佐卓卫登农蓬顿瑞琪黛薇娅璐迦伽谢奈霍尚赞歇汗罕蒂娃芙茜菈妲朵萝莱尼岸仑契琦"
)
"""Characters of transliterated foreign names (Xinhua's table, commonest first ones)."""
_PART = f"[{TRANSLITERATION}]{{1,6}}"
DOTTED_NAME = re.compile(rf"{_PART}(?:[·•・]{_PART})+")
"""A transliterated name: `大卫·保罗·戈德曼`, `萨尔曼·可汗` (its parts bounded by non-transliteration text)."""
LATIN_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -](?:[A-Z][a-z]+|[A-Z]\.))*[ -][A-Z][a-z]+\b")
"""A Latin-script full name of two or more capitalised words: `Sam Altman`, `Ilya Sutskever`."""
_BRACKETED = re.compile(r"([^\s（()，,。、：:“”]{1,12})\s*[（(]\s*([^（()）]{1,30}?)\s*[)）]")
_SHORT_FOR = re.compile(r"[（(]\s*(?:以下)?简称\s*[“\"「]?([^”\"」，,)）]{1,8})[”\"」]?")
SHORT_SUFFIXES = (
    "老师",
    "总",
    "董",
    "博士",
    "教授",
    "先生",
    "女士",
    "师傅",
    "哥",
    "姐",
    "老",
    "主任",
    "院长",
    "局长",
)
SHORT_PREFIXES = ("老", "小", "大")
_AFTER_NAME = frozenset("表认称说指提在和与及等的是也曾将就还都对向从为把被让给")
"""Characters that follow a two-character name far more often than they end a three-character one."""


@dataclass
class Roster:
    """Full names found in a text, and short forms that point to exactly one of them."""

    names: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)
    """A form the text uses (`蔡师傅`, `戈德曼`, `李`) → the full name it stands for."""

    @classmethod
    def gather(cls, text: str, *, labels: Iterable[str] = ()) -> Roster:
        """Collect the names a text gives: with a role, transliterated, Latin, bracketed or declared short."""
        roster = cls()
        for match in DOTTED_NAME.finditer(text):
            roster.add(_trim_dotted(text, match.start(), match.end()))
        for match in LATIN_NAME.finditer(text):
            roster.add(match.group())
        for title in TITLE_PATTERN.finditer(text):  # `副院长李迪华`, `董事长兼首席执行官 李彦宏`
            at = title.end() + (1 if text[title.end() : title.end() + 1] == " " else 0)
            name = name_at(text, at)
            if name and role_before(text, title.end()):
                roster.add(name)
        for label in labels:
            if looks_like_name(label):
                roster.add(label)
        for match in _BRACKETED.finditer(text):  # `蔡师傅（蔡卓毅）`, `安德雷斯·韦思岸（Andreas Weigend）`
            outer, inner = match.group(1), match.group(2)
            short = _SHORT_FOR.match(text, match.start(2) - 1)
            if short and roster.known(outer):
                roster.alias(short.group(1), outer)
            elif roster.known(inner) or looks_like_name(inner):
                roster.add(inner)
                if 1 <= len(outer) <= 8 and outer != inner:
                    roster.alias(_tail(outer), inner)
            elif roster.known(outer) and LATIN_NAME.fullmatch(inner):
                roster.alias(inner, outer)
        for match in re.finditer(
            r"([\u4e00-\u9fff·]{2,12})\s*[（(]\s*(?:以下)?简称\s*[“\"「]?([^”\"」，,)）]{1,8})", text
        ):
            if roster.known(match.group(1)) or looks_like_name(match.group(1)):
                roster.add(match.group(1))
                roster.alias(match.group(2), match.group(1))
        return roster

    def add(self, name: str) -> None:
        """Record a full name, and the last part of a transliterated or Latin name as its short form."""
        name = name.strip()
        if not name or name in self.aliases:
            return
        self.names.add(name)
        parts = re.split(r"[·•・ ]", name)
        if len(parts) > 1:  # `戈德曼` or `罗伯` for `罗伯·埃文斯`
            for part in (parts[0], parts[-1]):
                if len(part) >= 2:
                    self.alias(part, name)

    def alias(self, form: str, name: str) -> None:
        """Record that `form` stands for `name`; a form claimed by two people stands for nobody."""
        if form == name or not form:
            return
        if self.aliases.get(form, name) != name:
            self.aliases[form] = ""  # ambiguous
            return
        self.aliases[form] = name

    def known(self, name: str) -> bool:
        """Whether `name` is a full name of the roster."""
        return name in self.names

    def resolve(self, form: str) -> str | None:
        """Return the full name a form stands for, when exactly one person fits; else None."""
        form = form.strip()
        if form in self.names:
            return form
        if form in self.aliases:
            return self.aliases[form] or None
        chinese = [n for n in self.names if re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n)]
        candidates: list[str] = []
        core = form
        for suffix in SHORT_SUFFIXES:
            if form.endswith(suffix) and len(form) > len(suffix):
                core = form[: -len(suffix)]
                break
        else:
            for prefix in SHORT_PREFIXES:
                if form.startswith(prefix) and len(form) == len(prefix) + 1:
                    core = form[len(prefix) :]
                    break
        if core in SURNAMES or core in COMPOUND_SURNAMES:  # `刘老师`, `夏总`, `老马`, `葛`
            candidates = [n for n in chinese if surname_of(n) == core]
        elif core == form and 2 <= len(form) <= 3 and re.fullmatch(r"[\u4e00-\u9fff]+", form):
            candidates = [n for n in chinese if len(n) > len(form) and n.endswith(form)]  # a given name
        return candidates[0] if len(candidates) == 1 else None

    def canonical(self, name: str) -> str:
        """Return the full name a found name stands for, or the name itself."""
        return self.resolve(name) or name


def name_at(text: str, start: int) -> str | None:
    """Return the Chinese name that starts at `start`: three characters only if they always go together."""
    three, two = text[start : start + 3], text[start : start + 2]
    if (
        len(three) == 3
        and looks_like_name(three)
        and three[2] not in _AFTER_NAME
        and text.count(three) >= text.count(two)
    ):
        return three
    return two if looks_like_name(two) else None


def _trim_dotted(text: str, start: int, end: int) -> str:
    """A transliterated name without a character it borrowed from a neighbouring word (`总理安东尼` → `安东尼`)."""

    def borrowed(word: str, own: str) -> bool:
        return common_word(word) and not known_word(own)

    while (
        end - start > 3
        and text[end - 2] not in "·•・"
        and borrowed(text[end - 1 : end + 1], text[end - 2 : end])
    ):
        end -= 1  # `…阿尔巴尼斯通过`: `通过` is a word, `斯通` is not
    while (
        end - start > 3
        and start > 0
        and text[start + 1] not in "·•・"
        and borrowed(text[start - 1 : start + 1], text[start : start + 2])
    ):
        start += 1  # `总理安东尼…`: `总理` is a word, `理安` is not (but `乐评人大卫`: `大卫` is)
    return text[start:end]


def _tail(outer: str) -> str:
    """The short form in front of a bracketed full name: `外卖骑手蔡师傅（蔡卓毅）` → `蔡师傅`."""
    for size in range(min(len(outer), 4), 1, -1):
        tail = outer[-size:]
        if tail[:1] in SURNAMES or tail[:1] in SHORT_PREFIXES:
            return tail
    return outer
