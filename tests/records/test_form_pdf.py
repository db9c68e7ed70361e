"""The printed inspection record form, read back with poppler (pdftotext, pdffonts, pdftoppm).

poppler-utils and the Chinese font come from Debian packages that scripts/install.sh
installs; without them these tests fail rather than skip.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw

from backend.domain.records import fonts
from backend.domain.records.form_pdf import FormItem, FormSignature, RecordForm, render

HASH = "9c1f5e2a7b3d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
OTHER_HASH = "0" * 63 + "1"
LONG_PROBLEM = (
    "消毒柜未通电，现场抽查的二十套餐具均存放于普通橱柜内，未见消毒记录；"
    + "后厨洗消间三槽式水池仅一槽可用，清洗、消毒、冲洗未分池进行；" * 5
    + "经营者称消毒柜故障已两周尚未维修，期间餐具仅用清水冲洗。"
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run scripts/install.sh (it installs poppler-utils)")
    return path


def _run(*args: str) -> str:
    done = subprocess.run(
        [_tool(args[0]), *args[1:]], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def _pdf(tmp_path: Path, data: bytes, name: str = "form.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _text(path: Path, *pages: int) -> str:
    page_args = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return _run("pdftotext", "-layout", *page_args, str(path), "-")


def _flat(path: Path) -> str:
    """The text in reading order, without whitespace: wrapped cells read back whole."""
    return re.sub(r"\s+", "", _run("pdftotext", str(path), "-"))


def _page_count(path: Path) -> int:
    match = re.search(r"^Pages:\s+(\d+)$", _run("pdfinfo", str(path)), re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def _page_image(tmp_path: Path, pdf: Path, page: int = 1) -> Image.Image:
    prefix = tmp_path / f"{pdf.stem}-{page}"
    pages = ["-f", str(page), "-l", str(page)]
    _run("pdftoppm", "-r", "60", "-png", *pages, "-singlefile", str(pdf), str(prefix))
    png = prefix.with_suffix(".png")
    assert png.is_file()
    with Image.open(png) as image:
        return image.convert("L")


def _signature_image(fmt: str = "PNG") -> bytes:
    image = Image.new("RGB", (240, 90), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(10, 70), (60, 15), (110, 75), (170, 20), (230, 60)], fill=(0, 0, 90), width=5)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _form(items: list[FormItem] | None = None) -> RecordForm:
    return RecordForm(
        task_name="2026年度餐饮服务食品安全“双随机、一公开”监督检查",
        task_code="SJ-2026-360731-00042",
        object_name="于都县贡江镇好再来餐馆",
        uscc="92360731MA35XXXX7Q",
        address="江西省赣州市于都县贡江镇长征大道128号",
        legal_representative="刘建华",
        phone="0797-6212345",
        department="于都县市场监督管理局贡江市场监管所",
        items=items
        if items is not None
        else [
            FormItem("是否公示有效的食品经营许可证、营业执照", True, None),
            FormItem("从业人员是否持有有效健康证明", False, "2名后厨人员健康证明已过期"),
            FormItem("食品原料是否离地离墙存放，生熟分开", True, None),
            FormItem("是否建立进货查验记录制度并留存票据", None, None),
            FormItem("餐饮具是否清洗消毒并存放在专用保洁设施内", False, LONG_PROBLEM),
            FormItem("冷藏冷冻设施温度是否符合要求", True, None),
        ],
        verification_methods=["现场检查", "查阅资料", "询问有关人员"],
        requested_documents=["从业人员健康证明", "进货查验记录"],
        result_categories=["发现问题，责令整改"],
        follow_up=["责令限期整改", "移送案件线索：移交县局执法稽查局"],
        business_remarks="对检查结果无异议，将按期整改。",
        signatures=[
            FormSignature(
                "检查人员", "张伟", "36073120210015", _signature_image(), None, None, False
            ),
            FormSignature(
                "检查人员", "李娜", "36073120190088", _signature_image(), None, None, True
            ),
            FormSignature(
                "被检查对象", "刘建华", None, None, "认为处罚过重", "王芳（社区工作人员）", False
            ),
        ],
        checked_on="2026年11月30日",
        record_hash=HASH,
    )


def test_the_form_reads_back_with_its_labels_and_values(tmp_path: Path) -> None:
    data = render(_form())
    assert data.startswith(b"%PDF-")
    path = _pdf(tmp_path, data)
    text, flat = _text(path), _flat(path)
    for expected in [
        "检查记录表",
        "任务名称",
        "SJ-2026-360731-00042",
        "被检查对象",
        "于都县贡江镇好再来餐馆",
        "统一社会信用代码",
        "92360731MA35XXXX7Q",
        "住所（经营场所）",
        "法定代表人（负责人）",
        "刘建华",
        "联系电话",
        "0797-6212345",
        "检查内容",
        "是否符合",
        "问题描述",
        "从业人员是否持有有效健康证明",
        "2名后厨人员健康证明已过期",
        "未检查",
        "核查方式",
        "询问有关人员",
        "要求提供材料",
        "检查结果",
        "发现问题，责令整改",
        "后续处置",
        "移送案件线索",
        "被检查对象意见",
        "执法证号",
        "36073120210015",
        "拒签",
        "签名后内容已变更",
        "检查日期",
        "2026年11月30日",
    ]:
        assert expected in text, expected
    for whole in [LONG_PROBLEM, "拒签：认为处罚过重（见证人：王芳（社区工作人员））", HASH]:
        assert whole in flat, whole
    assert re.search(r"第\s*1\s*页\s*共\s*2\s*页", text)
    assert "否" in text and "是" in text
    assert text.count("签名后内容已变更") == 1  # only the stale signature is marked
    assert "签名图像无法显示" not in text


def test_every_font_is_embedded(tmp_path: Path) -> None:
    header, rule, *rows = _run("pdffonts", str(_pdf(tmp_path, render(_form())))).splitlines()
    # the rule of dashes under the header marks each column; a name or type may hold spaces
    columns = [m.span() for m in re.finditer(r"-+", rule)]
    emb = next(span for span in columns if header[span[0] : span[1]].strip() == "emb")
    assert rows, "the form uses no font"
    for row in rows:
        assert row[emb[0] : emb[1]].strip() == "yes", row


def test_the_first_page_is_drawn(tmp_path: Path) -> None:
    page = _page_image(tmp_path, _pdf(tmp_path, render(_form())))
    assert page.size[0] > 400 and page.size[1] > 600  # A4 at 60 dpi is 496 x 702
    dark = sum(page.histogram()[:128])
    assert dark > 0.02 * page.size[0] * page.size[1], dark


def test_the_qr_code_carries_the_hash(tmp_path: Path) -> None:
    form = _form()
    first = _pdf(tmp_path, render(form), "first.pdf")
    second = _pdf(tmp_path, render(dataclasses.replace(form, record_hash=OTHER_HASH)), "second.pdf")
    pages = _page_count(first)
    assert _page_count(second) == pages
    assert _page_image(tmp_path, first, 1).tobytes() == _page_image(tmp_path, second, 1).tobytes()
    # the QR code closes the form, on its last page
    a, b = _page_image(tmp_path, first, pages), _page_image(tmp_path, second, pages)
    box = ImageChops.difference(a, b).getbbox()
    assert box is not None
    # the printed hash is one line of 6 pt; only the 30 mm QR code changes so tall an area
    assert box[3] - box[1] > 20 / 25.4 * 60, box


def test_a_long_checklist_continues_over_pages(tmp_path: Path) -> None:
    items = [
        FormItem(
            f"第{n}项检查内容：核查经营场所第{n}处设施设备的清洁、维护与使用记录", n % 7 != 0, None
        )
        for n in range(1, 41)
    ]
    path = _pdf(tmp_path, render(_form(items=items)))
    pages = _page_count(path)
    assert pages >= 2
    assert "第40项检查内容" in _text(path)
    assert "问题描述" in _text(path, 2)  # the table header repeats on the next page
    assert f"第{pages}页共{pages}页" in re.sub(r"\s+", "", _text(path, pages))


def test_the_same_form_gives_the_same_bytes() -> None:
    assert render(_form()) == render(_form())


def test_signature_images_may_be_jpeg_or_unreadable(tmp_path: Path) -> None:
    form = _form()
    jpeg = dataclasses.replace(form.signatures[0], image_png=_signature_image("JPEG"))
    broken = dataclasses.replace(form.signatures[1], image_png=b"\x89PNG\r\n\x1a\nnot really")
    path = _pdf(tmp_path, render(dataclasses.replace(form, signatures=[jpeg, broken])))
    text = _text(path)
    assert text.count("（签名图像无法显示）") == 1


def test_the_hash_must_be_a_sha256() -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        render(dataclasses.replace(_form(), record_hash="abc"))


def test_a_problem_longer_than_a_page_splits_inside_its_row(tmp_path: Path) -> None:
    problem = "后厨操作间墙角发现蟑螂活动痕迹。" * 150 + "以上情况经营者已确认。"
    path = _pdf(tmp_path, render(_form(items=[FormItem("是否采取有效的防虫措施", False, problem)])))
    assert _page_count(path) >= 3
    flat = _flat(path)  # page footers and the repeated table header interrupt the problem
    assert flat.count("蟑") == 150, "a line of the problem was lost or repeated at a page break"
    assert "以上情况经营者已确认。" in flat


def test_a_missing_font_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "_registered", None)
    monkeypatch.setattr(fonts, "KNOWN_PATHS", (Path("/nonexistent/wqy-zenhei.ttc"),))
    monkeypatch.setattr(fonts, "_fc_match", lambda: None)
    with pytest.raises(fonts.FontUnavailable, match="fonts-wqy-zenhei"):
        fonts.register_fonts()


def test_a_record_with_many_long_measures_prints_them_all(tmp_path: Path) -> None:
    """60 measures of 2,000 characters (within the sync limits) once made one cell too tall
    for ReportLab to split: a LayoutError (a 500). Each now has its row."""
    measures = [f"第{n}项措施：" + "责令整改" * 500 for n in range(1, 61)]
    form = dataclasses.replace(_form(), follow_up=measures)
    path = _pdf(tmp_path, render(form))
    text = _flat(path)
    assert "第1项措施" in text and "第60项措施" in text
    assert _page_count(path) > 10
