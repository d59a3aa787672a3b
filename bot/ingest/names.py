"""Names: recognise people's names, their roles and aliases in Chinese media text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Common Chinese surnames (single and compound). Rare surnames that are also frequent title or
# function characters (长, 人, 师, 和, 时, 原 …) are left out on purpose: they cause false names.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧肖田董袁潘蒋蔡余于杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴"
    "霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑"
    "景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
    "印宓"
) - frozenset("长人师和时原成明全商")
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "令狐",
    "慕容",
    "尉迟",
    "公孙",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
)

TITLE_WORDS = (
    "联合创始人",
    "创始人",
    "创办人",
    "首席执行官",
    "首席技术官",
    "首席科学家",
    "执行董事",
    "董事长",
    "副董事长",
    "董事",
    "副总裁",
    "总裁",
    "总经理",
    "副总经理",
    "经理",
    "总监",
    "负责人",
    "分析师",
    "研究员",
    "院长",
    "副院长",
    "教授",
    "主任",
    "副主任",
    "主席",
    "总编辑",
    "主编",
    "编辑",
    "合伙人",
    "专家",
    "科学家",
    "工程师",
    "秘书长",
    "会长",
    "部长",
    "局长",
    "书记",
    "老师",
    "博士",
    "委员",
    "媒体人",
    "CEO",
    "CTO",
    "COO",
    "CFO",
    "CSO",
    "VP",
    "主持人",
)
TITLE_PATTERN = _TITLE_RE = re.compile("|".join(sorted(map(re.escape, TITLE_WORDS), key=len, reverse=True)))
NON_NAME_ENDINGS = (
    "委",
    "会",
    "办",
    "厅",
    "署",
    "组",
    "所",
    "馆",
    "者",
    "们",
    "士",
    "方",
    "家",
    "司",
    "业",
    "界",
    "团",
    "队",
    "部",
    "府",
    "局",
    "院",
    "校",
    "网",
    "报",
)
NON_NAMES = frozenset(
    {
        "记者",
        "主持",
        "嘉宾",
        "编者",
        "作者",
        "摘要",
        "导读",
        "来源",
        "编辑",
        "时间",
        "地点",
        "备注",
        "注意",
        "提问",
        "回答",
        "总结",
        "简介",
        "声明",
        "观点",
        "原标题",
        "以下",
        "对此",
        "同时",
        "此外",
        "其中",
        "另外",
        "目前",
        "未来",
        "当时",
        "今天",
        "明天",
        "昨天",
        "这个",
        "那个",
        "所以",
        "但是",
        "因为",
        "如果",
        "虽然",
        "通过",
        "经过",
        "方面",
    }
)
PRONOUNS = ("他", "她")
ADDRESS_SUFFIXES = frozenset(
    {
        "总",
        "老师",
        "博士",
        "教授",
        "先生",
        "女士",
        "董",
        "老",
        "师傅",
        "哥",
        "姐",
        "主任",
        "院长",
        "局长",
        "总监",
        "经理",
    }
)
ALIAS_SUFFIXES = ("总", "老师", "博士", "教授", "先生", "女士", "董", "老")
_LATIN_NAME = re.compile(r"^[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2}$")
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")


@lru_cache(maxsize=1)
def _word_tags() -> dict[str, str]:
    """Jieba's dictionary of words and their part of speech (loaded once)."""
    import jieba.posseg

    jieba.posseg.dt.initialize()
    return dict(jieba.posseg.dt.word_tag_tab)


def common_word(candidate: str) -> bool:
    """Whether jieba's dictionary knows a string as a word that is not a person's name (`文化`, `调查`)."""
    tag = _word_tags().get(candidate)
    return tag is not None and not tag.startswith("nr")


def known_word(candidate: str) -> bool:
    """Whether jieba's dictionary knows a string as a word of any kind (names included)."""
    return candidate in _word_tags()


def surname_of(name: str) -> str:
    """Return the surname of a Chinese name (compound surnames included)."""
    return name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]


def looks_like_name(candidate: str) -> bool:
    """Whether a string is shaped like a person's name (Chinese 2-4 characters, or Latin words)."""
    if _LATIN_NAME.match(candidate):
        return candidate.upper() not in {"CEO", "CTO", "AI", "Q", "A"} and len(candidate) > 1
    if not _CJK.match(candidate) or not 2 <= len(candidate) <= 4 or candidate in NON_NAMES:
        return False
    if candidate.endswith(NON_NAME_ENDINGS) or candidate.startswith(PRONOUNS):
        return False
    surname = surname_of(candidate)
    shaped = (surname in SURNAMES or surname in COMPOUND_SURNAMES) and len(candidate) - len(surname) in (1, 2)
    if len(candidate) == 3 and (candidate[2] in "地的得着了过们" or common_word(candidate[:2])):
        return False  # `简略地`, `文化人`: a word and a particle, not a name
    if candidate[len(surname_of(candidate)) :] in ADDRESS_SUFFIXES:
        return False  # `刘老师`, `蔡师傅`: how a person is addressed, not their name
    return shaped and not common_word(candidate)


def name_before(text: str, end: int, *, known: Iterable[str] = ()) -> str | None:
    """Return the name that ends at `end` in `text` (known names first, then the name shape)."""
    for name in sorted(known, key=len, reverse=True):
        if text.endswith(name, 0, end):
            return name
    best: str | None = None
    for size in (2, 3):
        candidate = text[max(0, end - size) : end]
        if len(candidate) == size and looks_like_name(candidate):
            # A longer candidate wins unless the shorter also stands alone elsewhere (then its first
            # character belongs to a title word, as in `分析师卢冠男` vs `长王明`).
            if best is None or text.count(candidate) >= text.count(best):
                best = candidate
    return best


def role_before(text: str, start: int) -> str:
    """Return the role written right before a name at `start` (`APUS创始人兼CEO李涛` → `APUS创始人兼CEO`)."""
    head = text[max(0, start - 60) : start]
    head = re.split(r"[，,:：;；。！？!?“”\"（）()《》\n]", head)[-1]
    head = re.split(r"对话了?|与|和|及|以及|由|协助|邀请了?|包括|采访了?|专访了?|作为|是|为|的|在", head)[-1]
    parts = head.split("、")
    role = parts.pop().strip()
    # `腾讯云副总裁、腾讯云智能平台负责人李学朝`: earlier parts that end with a title belong to the role.
    while parts and _TITLE_RE.search(parts[-1]) and any(parts[-1].endswith(w) for w in TITLE_WORDS):
        role = parts.pop().strip() + "、" + role
    return role if _TITLE_RE.search(role) else ""


def role_after(text: str, end: int) -> str:
    """Return a role given right after a name, as in `李开复系创新工场院长` or a bio `于千城,某公司CEO,`."""
    match = re.match(r"\s*(?:系|是|现任|担任|[，,])\s*([^，,。;；()（）\n]{2,40})", text[end : end + 60])
    if match and _TITLE_RE.search(match.group(1)):
        return match.group(1).strip()
    return ""


def split_role(role: str) -> tuple[str, str]:
    """Split a role into (title, org): `APUS创始人兼CEO` → (`APUS创始人兼CEO`, `APUS`)."""
    match = _TITLE_RE.search(role)
    org = role[: match.start()].strip() if match else ""
    return role, org.rstrip("兼、 ")


def aliases_in(text: str, name: str, *, others: Iterable[str]) -> list[str]:
    """Return the forms like `于总` that a text uses for `name`, when no one else shares the surname."""
    surname = surname_of(name)
    if not _CJK.match(name) or any(surname_of(other) == surname for other in others if other != name):
        return []
    found = [surname + suffix for suffix in ALIAS_SUFFIXES if surname + suffix in text]
    if "老" + surname in text:
        found.append("老" + surname)
    return found
