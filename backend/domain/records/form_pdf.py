"""The inspection record form (检查记录表) as a PDF, rendered from a finished record.

The printed form is what the inspected business keeps and what goes into the case file, so
it follows the layout of the paper form: the title, a header table naming the task and the
inspected object (名称、统一社会信用代码、住所、法定代表人、联系电话), the checklist table
(序号、检查内容、是否符合、问题描述; it wraps and continues over pages with its header
repeated), the sections 核查方式、要求提供材料、检查结果、后续处置、被检查对象意见, the
signatures (each with its image, or the refusal and its witness, and a mark when the record
changed after that signature), the inspection date and a QR code carrying the SHA-256 of the
record's canonical content (``zsjg:record:sha256:<hash>``) with the hash printed under it, so
a paper copy can be checked against the stored record. Pages are numbered "第 N 页 共 M 页".

All text is set in WenQuanYi Zen Hei, embedded (see ``fonts``); a character outside that
font (rare characters beyond GBK, emoji) prints as an empty box. ``render`` is a pure
function of its input: the PDF is written in ReportLab's invariant mode, so the same form
gives the same bytes. Blocking and CPU-bound: run it in a worker thread.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from PIL import ImageOps
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from backend.domain.records.fonts import MONO, REGULAR, register_fonts

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
FOOTER_SPACE = 6 * mm
FOOTER_BASELINE = 10 * mm
BODY_WIDTH = PAGE_WIDTH - 2 * MARGIN
LABEL_WIDTH = 38 * mm  # fits 法定代表人（负责人） on one line
SIGNATURE_BOX = (40 * mm, 15 * mm)
QR_SIZE = 30 * mm
MAX_SIGNATURE_PIXELS = 20_000_000
HASH_PATTERN = re.compile(r"[0-9a-f]{64}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
LEADING = 14  # points, of 10 pt body text
LABEL_FILL = colors.HexColor("#EEEEEE")
GRID = colors.HexColor("#333333")
STALE_COLOR = colors.HexColor("#C00000")
NONE_TEXT = "无"
BLANK = "—"


@dataclass(frozen=True, slots=True)
class FormItem:
    content: str  # 检查内容: the checklist point's text
    conforms: bool | None  # 是否符合: True "是", False "否", None "未检查"
    problem: str | None  # 问题描述


@dataclass(frozen=True, slots=True)
class FormSignature:
    role: str  # e.g. "检查人员" or "被检查对象"
    name: str | None
    certificate_no: str | None  # 执法证号, for inspectors
    image_png: bytes | None  # the signature image (PNG or JPEG bytes) if signed
    refused_reason: str | None  # 拒签 reason (then there is no image)
    witness: str | None  # witness of the refusal
    stale: bool  # the record changed after this signature


@dataclass(frozen=True, slots=True)
class RecordForm:
    task_name: str
    task_code: str
    object_name: str
    uscc: str
    address: str
    legal_representative: str
    phone: str | None
    department: str | None  # 检查执行部门
    items: list[FormItem]
    verification_methods: list[str]  # 核查方式
    requested_documents: list[str]  # 要求提供材料
    result_categories: list[str]  # 检查结果, official wording
    follow_up: list[str]  # 后续处置, referral text appended where present
    business_remarks: str | None  # 被检查对象意见
    signatures: list[FormSignature]
    checked_on: str  # 检查日期, e.g. "2026年11月30日"
    record_hash: str  # sha256 hex of the record's canonical content


def qr_content(record_hash: str) -> str:
    return f"zsjg:record:sha256:{record_hash}"


class _Styles:
    def __init__(self) -> None:
        base = ParagraphStyle("cell", fontName=REGULAR, fontSize=10, leading=LEADING)
        base.wordWrap = "CJK"  # break Chinese text between any two characters
        self.cell = base
        self.label = ParagraphStyle("label", parent=base, alignment=TA_CENTER)
        self.center = ParagraphStyle("center", parent=base, alignment=TA_CENTER)
        self.title = ParagraphStyle(
            "title", parent=base, fontSize=20, leading=28, alignment=TA_CENTER, spaceAfter=5 * mm
        )
        self.heading = ParagraphStyle(
            "heading", parent=base, fontSize=11, leading=16, spaceBefore=4 * mm, spaceAfter=2 * mm
        )
        self.stale = ParagraphStyle(
            "stale", parent=base, fontSize=9, leading=12, textColor=STALE_COLOR
        )
        self.note = ParagraphStyle(
            "note", parent=base, fontSize=8, leading=11, textColor=colors.grey
        )
        self.hash = ParagraphStyle(
            "hash", parent=base, fontName=MONO, fontSize=6, leading=8, alignment=TA_CENTER
        )


def _text(value: str | None, *, empty: str = BLANK) -> str:
    """Paragraph markup for plain text: escaped, line breaks kept, a dash when empty."""
    value = CONTROL_CHARACTERS.sub("", value or "").replace("\r\n", "\n").strip()
    if not value:
        return escape(empty)
    return escape(value).replace("\n", "<br/>")


def _p(value: str | None, style: ParagraphStyle, *, empty: str = BLANK) -> Paragraph:
    return Paragraph(_text(value, empty=empty), style)


def _grid(
    data: list[list[Any]], widths: list[float], extra: list[Any] | None = None, heading: int = 0
) -> Table:
    """A ruled table; its first ``heading`` rows repeat on each page the table continues on.

    A row taller than the space left may split inside (three lines at least on each side),
    so no text is too long to print. ReportLab fails to split a row holding a vertically
    centred cell, hence body cells are aligned to the top.
    """
    table = Table(data, colWidths=widths, repeatRows=heading, splitInRow=3 * LEADING)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), REGULAR, 10),  # else cells select Helvetica
                ("GRID", (0, 0), (-1, -1), 0.6, GRID),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *([("VALIGN", (0, 0), (-1, heading - 1), "MIDDLE")] if heading else []),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                *(extra or []),
            ]
        )
    )
    return table


def _header(form: RecordForm, st: _Styles) -> Table:
    """Label and value pairs, one pair spanning the row or two pairs side by side."""
    rows: list[tuple[str, str | None] | tuple[str, str | None, str, str | None]] = [
        ("任务名称", form.task_name),
        ("任务编号", form.task_code, "检查执行部门", form.department),
        ("被检查对象", form.object_name),
        ("统一社会信用代码", form.uscc, "法定代表人（负责人）", form.legal_representative),
        ("住所（经营场所）", form.address),
        ("联系电话", form.phone),
    ]
    data: list[list[Any]] = []
    style: list[Any] = [("BACKGROUND", (0, 0), (0, -1), LABEL_FILL)]
    for r, row in enumerate(rows):
        cells: list[Any] = [Paragraph(row[0], st.label), _p(row[1], st.cell)]
        if len(row) == 2:
            cells += ["", ""]
            style.append(("SPAN", (1, r), (3, r)))
        else:
            cells += [Paragraph(row[2], st.label), _p(row[3], st.cell)]
            style.append(("BACKGROUND", (2, r), (2, r), LABEL_FILL))
        data.append(cells)
    value = (BODY_WIDTH - 2 * LABEL_WIDTH) / 2
    return _grid(data, [LABEL_WIDTH, value, LABEL_WIDTH, value], style)


def _conformity(value: bool | None) -> str:
    if value is None:
        return "未检查"
    return "是" if value else '<font color="#C00000">否</font>'


def _items(form: RecordForm, st: _Styles) -> Table:
    widths = [12 * mm, 80 * mm, 18 * mm, BODY_WIDTH - 110 * mm]
    data: list[list[Any]] = [
        [Paragraph(h, st.label) for h in ("序号", "检查内容", "是否符合", "问题描述")]
    ]
    for n, item in enumerate(form.items, start=1):
        data.append(
            [
                Paragraph(str(n), st.center),
                _p(item.content, st.cell),
                Paragraph(_conformity(item.conforms), st.center),
                _p(item.problem, st.cell, empty=""),
            ]
        )
    extra: list[Any] = [("BACKGROUND", (0, 0), (-1, 0), LABEL_FILL)]
    if not form.items:
        data.append(["", Paragraph("（无检查内容）", st.cell), "", ""])
    return _grid(data, widths, extra, heading=1)


def _listed(labels: list[str]) -> str:
    labels = [x for x in labels if x.strip()]
    if not labels:
        return NONE_TEXT
    if len(labels) == 1:
        return _text(labels[0])
    return "<br/>".join(f"{n}. {_text(x)}" for n, x in enumerate(labels, start=1))


def _sections(form: RecordForm, st: _Styles) -> Table:
    """One row per entry of a section (the label on its first): a record with many long
    measures prints fast and splits between them, not inside one giant cell."""
    rows: list[tuple[str, str]] = [
        ("核查方式", _listed(form.verification_methods)),
        ("要求提供材料", _listed(form.requested_documents)),
        ("检查结果", _listed(form.result_categories)),
    ]
    measures = [x for x in form.follow_up if x.strip()]
    if len(measures) > 1:
        rows += [
            ("后续处置" if n == 1 else "", f"{n}. {_text(x)}")
            for n, x in enumerate(measures, start=1)
        ]
    else:
        rows.append(("后续处置", _listed(measures)))
    rows.append(("被检查对象意见", _text(form.business_remarks, empty=NONE_TEXT)))
    data = [[Paragraph(k, st.label), Paragraph(v, st.cell)] for k, v in rows]
    widths = [LABEL_WIDTH, BODY_WIDTH - LABEL_WIDTH]
    return _grid(data, widths, [("BACKGROUND", (0, 0), (0, -1), LABEL_FILL)])


def _signature_image(data: bytes) -> Image | None:
    """The signature scaled into its box, or None when the bytes are not a readable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as opened:
                if opened.format not in {"PNG", "JPEG"}:
                    return None
                if opened.width * opened.height > MAX_SIGNATURE_PIXELS:
                    return None
                image = ImageOps.exif_transpose(opened)
                # flatten any transparency onto white paper
                rgba = image.convert("RGBA")
                flat = PILImage.new("RGB", rgba.size, "white")
                flat.paste(rgba, mask=rgba.getchannel("A"))
    except Exception:  # any failure to decode means the image cannot be shown
        return None
    if flat.width == 0 or flat.height == 0:
        return None
    buffer = io.BytesIO()
    flat.save(buffer, format="PNG")
    buffer.seek(0)
    box_w, box_h = SIGNATURE_BOX
    scale = min(box_w / flat.width, box_h / flat.height)
    return Image(buffer, width=flat.width * scale, height=flat.height * scale)


def _signature_cell(sig: FormSignature, st: _Styles) -> list[Flowable]:
    cell: list[Flowable] = []
    if sig.refused_reason is not None:
        witness = f"（见证人：{_text(sig.witness)}）"
        cell.append(Paragraph(f"拒签：{_text(sig.refused_reason)}{witness}", st.cell))
    elif sig.image_png is not None:
        image = _signature_image(sig.image_png)
        cell.append(image if image is not None else Paragraph("（签名图像无法显示）", st.cell))
    else:
        cell.append(Paragraph("（未签名）", st.cell))
    if sig.stale:
        cell.append(Paragraph("【签名后内容已变更】", st.stale))
    return cell


def _signatures(form: RecordForm, st: _Styles) -> Table:
    widths = [28 * mm, 28 * mm, 40 * mm, BODY_WIDTH - 96 * mm]
    data: list[list[Any]] = [
        [Paragraph(h, st.label) for h in ("签署人", "姓名", "执法证号", "签名")]
    ]
    for sig in form.signatures:
        data.append(
            [
                _p(sig.role, st.center),
                _p(sig.name, st.center),
                _p(sig.certificate_no, st.center),
                _signature_cell(sig, st),
            ]
        )
    if not form.signatures:
        data.append(["", "", "", Paragraph("（无签名）", st.cell)])
    return _grid(data, widths, [("BACKGROUND", (0, 0), (-1, 0), LABEL_FILL)], heading=1)


def _qr(record_hash: str) -> Drawing:
    widget = QrCodeWidget(qr_content(record_hash), barLevel="M", barBorder=2)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(
        QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0]
    )
    drawing.initialFontName = REGULAR  # else the drawing pulls in unembedded Helvetica
    drawing.initialFontSize = 6
    drawing.add(widget)
    return drawing


def _closing(form: RecordForm, st: _Styles) -> Table:
    """The date on the left; the QR code with the record hash under it on the right."""
    right = 90 * mm
    date = Paragraph(f"检查日期：{_text(form.checked_on)}", st.cell)
    note = Paragraph("右侧二维码载有本记录内容的 SHA-256 校验值，可扫码核验。", st.note)
    verify = [_qr(form.record_hash), Paragraph(form.record_hash, st.hash)]
    table = Table(
        [[[date, Spacer(1, 3 * mm), note], verify]], colWidths=[BODY_WIDTH - right, right]
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), REGULAR, 10),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
    """Holds every page until the end, then stamps "第 N 页 共 M 页" on each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self.setFont(REGULAR, 9)
            self.setFillColor(colors.black)
            self.drawCentredString(PAGE_WIDTH / 2, FOOTER_BASELINE, f"第 {number} 页 共 {total} 页")
            super().showPage()
        super().save()


def render(form: RecordForm) -> bytes:
    """The record form as PDF bytes: A4, Chinese text embedded, the same bytes for the same form."""
    if HASH_PATTERN.fullmatch(form.record_hash) is None:
        raise ValueError("record_hash must be 64 lowercase hex digits (a SHA-256)")
    register_fonts()
    st = _Styles()
    buffer = io.BytesIO()
    title = f"检查记录表 {form.task_code}"
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author=form.department or "掌上监管",
        subject=form.task_name,
        creator="掌上监管",
        producer="掌上监管",
        invariant=1,
        initialFontName=REGULAR,
    )

    def footer(canvas: Canvas, _doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(MONO, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, FOOTER_BASELINE, form.task_code)
        canvas.restoreState()

    story: list[Flowable] = [
        Paragraph("检查记录表", st.title),
        _header(form, st),
        Paragraph("检查情况", st.heading),
        _items(form, st),
        Spacer(1, 4 * mm),
        _sections(form, st),
        KeepTogether(
            [
                Paragraph("签字确认", st.heading),
                _signatures(form, st),
                Spacer(1, 5 * mm),
                _closing(form, st),
            ]
        ),
    ]
    # a frame without padding: tables as wide as the text, flush with the headings
    frame = Frame(
        MARGIN,
        MARGIN + FOOTER_SPACE,
        BODY_WIDTH,
        PAGE_HEIGHT - 2 * MARGIN - FOOTER_SPACE,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate(id="form", frames=[frame], onPage=footer)])
    doc.build(story, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()
