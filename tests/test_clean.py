"""Cleaning marks boilerplate spans and never rewrites the text."""

from __future__ import annotations

from bot.ingest.clean import find_boilerplate, split_lines


def kinds(text: str) -> list[tuple[str, str]]:
    return [(span.kind, text[span.start : span.end]) for span in find_boilerplate(text)]


def test_ads_before_the_title_form_one_block() -> None:
    text = "欧易\n\n欧易(OKX)\n\n国内用户最喜爱的合约交易所\n\n星辰大模型发布,行业迎来新变局\n\n正文第一段,记者了解到相关情况。"
    assert kinds(text) == [
        ("ad", "欧易"),
        ("ad", "欧易(OKX)"),
        ("ad", "国内用户最喜爱的合约交易所"),
        ("title", "星辰大模型发布,行业迎来新变局"),
    ]


def test_disclaimer_copyright_link_engagement_and_metadata() -> None:
    text = (
        "标题在这里\n正文,这是一句话。\n2024-05-10 10:30:00 1024\n- 免责声明\n"
        "本文观点仅代表作者个人看法,不构成投资建议。\n版权声明:本站文章来自互联网,如有侵权请联系删除!\n"
        "友情链接\n好文章,需要你的鼓励"
    )
    assert [kind for kind, _ in kinds(text)] == [
        "title",
        "metadata",
        "disclaimer",
        "disclaimer",
        "copyright",
        "link",
        "engagement",
    ]


def test_headings_and_bylines() -> None:
    text = "大模型创业访谈\n文/张三\n一、“落后不是两个月”\n【Part 1】机会到底有多大?\n(2)谈创业:难在哪里\n李四:这是一段回答。"
    assert kinds(text) == [
        ("title", "大模型创业访谈"),
        ("byline", "文/张三"),
        ("heading", "一、“落后不是两个月”"),
        ("heading", "【Part 1】机会到底有多大?"),
        ("heading", "(2)谈创业:难在哪里"),
    ]


def test_question_lines_are_not_bylines() -> None:
    assert kinds("标题\n记者:您怎么看价格战?\n王五:挺好。") == [("title", "标题")]


def test_guest_bios_are_marked_as_bio() -> None:
    text = "王五:我说完了。\n【嘉宾简介】\n王五,某公司CEO,长期关注AI。\n好文章,需要你的鼓励"
    assert kinds(text) == [
        ("heading", "【嘉宾简介】"),
        ("bio", "王五,某公司CEO,长期关注AI。"),
        ("engagement", "好文章,需要你的鼓励"),
    ]


def test_offsets_survive_crlf_and_leading_spaces() -> None:
    text = "标题\r\n  正文有缩进,这是一句话。\r\n版权所有"
    lines = split_lines(text)
    assert [text[line.start : line.end] for line in lines] == ["标题", "正文有缩进,这是一句话。", "版权所有"]
    assert [text[s.start : s.end] for s in find_boilerplate(text)] == ["标题", "版权所有"]
