"""Tokenizing Chinese text with jieba, with a user dictionary of the people's names."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

import jieba

logger = logging.getLogger(__name__)

STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 也 都 就 而 但 还 又 或 被 把 让 给 对 从 到 向 为 以 于 之 其 这 那 这个 那个 这些 那些 "
    "这样 那样 一个 一些 一种 什么 怎么 怎样 如何 为什么 哪 哪个 哪些 谁 吗 呢 吧 啊 呀 嘛 么 着 过 得 地 很 非常 "
    "比较 可能 可以 能 会 要 想 应该 需要 就是 还是 或者 如果 因为 所以 但是 然后 虽然 不过 其实 我们 你们 他们 "
    "她们 它们 我 你 他 她 它 大家 自己 没有 不是 有 个 上 下 中 里 后 前 时 时候 现在 今天 已经 目前 一定 "
    "觉得 认为 表示 看来 来看 方面 问题 事情 东西 情况 这种 那种 之后 之前 以及 并 且 等 等等 说 讲 做 "
    "怎么看 看法 观点 请问 一下 多少 具体 到底 是否 有没有 是不是 听说 大概 真的 谈谈 聊聊 哪位 谁说 说过 "
    # words that frame a question rather than name its topic
    "好处 坏处 意义 作用 前景 原因 怎么样 看待 评价 理解 区别 为何 为啥 咋 咋样 啥 怎样 怎么办 有何 何时 "
    "什么样 主要 应该 打算 希望 一般 通常 最近 之类 这么 那么 不会 会不会 能不能 以后 将来 一样 上面 "
    "专门 某个 某些 针对 判断 一致 分别 各自 相比 比较 对比 干什么 干嘛 "
    "在哪里 哪里 哪儿 在哪 什么样子 啥样 咋办 怎么回事 是啥 是什么 有啥 有什么 有哪些 靠谱 靠不靠谱 "
    # English question words, auxiliaries, pronouns and prepositions (English questions, Chinese text)
    "a an the of and or but in on at by for to from with about as into than then so if is are was were be "
    "been being am do does did done have has had having can could will would shall should may might must "
    "not no yes what which who whom whose why how when where there here this that these those it its he him "
    "his she her they them their we us our you your i me my mine any some all each every more most much many "
    "very just also too only such other than like think thinks thought say says said tell told does according "
    "really actually get got make made way ways thing things someone something anyone people person".split()
)
_WORD = re.compile(r"[\w\u4e00-\u9fff]")
jieba.setLogLevel(logging.WARNING)
DOMAIN_WORDS = ("大模型", "小模型", "算力", "语料", "开源", "闭源", "垂直模型", "通用大模型", "生成式")
"""Words of the field jieba's dictionary splits (`做大模型` → 做大/模型 without them)."""
_lock = threading.Lock()
_names: set[str] = set()
_ready = False


def add_names(names: Iterable[str], *, tag: str = "nr") -> None:
    """Teach jieba the given names so each stays one token (`蒋镒珍`, `于千城`)."""
    warm_up()
    with _lock:
        for name in names:
            if name and name not in _names:
                jieba.add_word(name, freq=100_000, tag=tag)
                _names.add(name)


def tokenize(text: str) -> list[str]:
    """Split text into lowercase search tokens, without stopwords and punctuation."""
    warm_up()
    tokens: list[str] = []
    for token in jieba.lcut(text):
        token = token.strip().lower()
        if token and token not in STOPWORDS and _WORD.match(token):
            tokens.append(token)
    return tokens


def warm_up() -> None:
    """Load jieba's dictionary and the field's words now rather than on the first question."""
    global _ready
    with _lock:
        if _ready:
            return
        jieba.initialize()
        for word in DOMAIN_WORDS:
            jieba.add_word(word, freq=100_000, tag="n")
        _ready = True


_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def bigrams(text: str) -> list[str]:
    """Character bigrams of the Chinese runs of a text (robust where word segmentation differs)."""
    return [run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)]


def search_terms(text: str) -> list[str]:
    """The terms BM25 indexes: jieba words plus `#`-marked character bigrams."""
    return tokenize(text) + ["#" + b for b in bigrams(text)]
