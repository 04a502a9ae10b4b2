"""Layout primitives of an administrative document (Decree 30/2020/NĐ-CP, Appendix I) in python-docx:
A4 page and margins, Times New Roman, paragraphs, short horizontal rules, borderless and ruled tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from services.reports.text_width import longest_word_cm

FONT = "Times New Roman"
BODY_PT = 14
TABLE_PT = 13
TABLE_PT_SMALLEST = 11
CELL_MARGIN_CM = 0.1
WORD_ROOM_CM = 0.1
"""Room a cell keeps beside its longest word: widths are rounded to twentieths of a point, and renderers
set text a little wider or narrower than its advance widths add up to."""
PAGE_WIDTH_CM, PAGE_HEIGHT_CM = 21.0, 29.7
MARGINS_CM = {"top": 2.0, "bottom": 2.0, "left": 3.0, "right": 2.0}
TEXT_WIDTH_CM = PAGE_WIDTH_CM - MARGINS_CM["left"] - MARGINS_CM["right"]
# OOXML fixes the order of property children; these are the successors each inserted element goes before.
PPR_AFTER_BORDERS = ("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
                     "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
                     "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
                     "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
                     "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
TBLPR_TAIL = ("w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")
TRPR_AFTER_HEIGHT = ("w:tblHeader", "w:tblCellSpacing", "w:jc", "w:hidden", "w:ins", "w:del", "w:trPrChange")
CENTER, LEFT, JUSTIFY = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.JUSTIFY


def _fonts(element: Any) -> None:
    """Times New Roman for every script slot, so Word never falls back for Vietnamese letters."""
    fonts = element.get_or_add_rPr().get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(slot), FONT)


def setup_page(doc: Document) -> None:
    """A4 portrait, the decree's margins, Times New Roman 14pt body, page numbers from page 2."""
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(PAGE_WIDTH_CM), Cm(PAGE_HEIGHT_CM)
    section.top_margin, section.bottom_margin = Cm(MARGINS_CM["top"]), Cm(MARGINS_CM["bottom"])
    section.left_margin, section.right_margin = Cm(MARGINS_CM["left"]), Cm(MARGINS_CM["right"])
    section.header_distance = section.footer_distance = Cm(1.0)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(BODY_PT)  # type: ignore[attr-defined]
    _fonts(normal.element)
    fmt = normal.paragraph_format  # type: ignore[attr-defined]
    fmt.space_before, fmt.space_after, fmt.line_spacing = Pt(6), Pt(0), 1.15
    section.different_first_page_header_footer = True
    number = section.header.paragraphs[0]
    number.alignment = CENTER
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    number._p.append(field)
    run = number.add_run("1")
    field.append(run._r)
    style(run, size=BODY_PT)


def style(run: Any, *, size: float, bold: bool = False, italic: bool = False) -> Any:
    run.font.name, run.font.size, run.bold, run.italic = FONT, Pt(size), bold, italic
    _fonts(run._r)
    return run


def text(
    para: Paragraph, content: str, *, size: float = BODY_PT, bold: bool = False, italic: bool = False,
    align: Any = JUSTIFY, first_line: float | None = None, before: float | None = None, after: float | None = None,
    line_spacing: float | None = None, keep_with_next: bool = False,
) -> Paragraph:
    """Fill `para` with one formatted run and set its paragraph format."""
    if content:
        style(para.add_run(content), size=size, bold=bold, italic=italic)
    fmt = para.paragraph_format
    para.alignment = align
    if first_line is not None:
        fmt.first_line_indent = Cm(first_line)
    if before is not None:
        fmt.space_before = Pt(before)
    if after is not None:
        fmt.space_after = Pt(after)
    if line_spacing is not None:
        fmt.line_spacing = line_spacing
    fmt.keep_with_next = keep_with_next
    return para


def body(doc: Document, content: str, **fmt: Any) -> Paragraph:
    """A paragraph of running text: justified, first line indented 1 cm."""
    fmt.setdefault("first_line", 1.0)
    return text(doc.add_paragraph(), content, **fmt)


def heading(doc: Document, content: str) -> Paragraph:
    """A section heading (I., 1., …): bold, indented like the text, kept with what follows."""
    return text(doc.add_paragraph(), content, bold=True, first_line=1.0, keep_with_next=True)


def cell_line(cell: _Cell, content: str, *, first: bool = False, **fmt: Any) -> Paragraph:
    """A line in a cell: the cell's first paragraph when `first`, else a new one."""
    para = cell.paragraphs[0] if first else cell.add_paragraph()
    fmt.setdefault("align", CENTER)
    fmt.setdefault("before", 0)
    fmt.setdefault("after", 0)
    fmt.setdefault("line_spacing", 1.0)
    return text(para, content, **fmt)


def rule(container: Any, length_cm: float, width_cm: float) -> Paragraph:
    """A short solid horizontal line, centred in `container` (a cell or the document) `width_cm` wide:
    under the issuing body, the motto and the title."""
    para = container.add_paragraph()
    side = max((width_cm - length_cm) / 2, 0)
    fmt = para.paragraph_format
    fmt.left_indent = fmt.right_indent = Cm(side)
    fmt.first_line_indent = Cm(0)
    fmt.space_before, fmt.space_after, fmt.line_spacing = Pt(0), Pt(0), Pt(3)
    props = para._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    props.insert_element_before(borders, *PPR_AFTER_BORDERS)
    mark = OxmlElement("w:rPr")  # the empty paragraph's mark sets its height: keep it tiny
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "4")
    mark.append(size)
    props.insert_element_before(mark, "w:sectPr", "w:pPrChange")
    return para


def _borders(table: Table, value: str) -> None:
    props = table._tbl.tblPr
    found = props.find(qn("w:tblBorders"))
    if found is not None:
        props.remove(found)
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), value)
        if value != "nil":
            el.set(qn("w:sz"), "4")
            el.set(qn("w:color"), "000000")
        borders.append(el)
    props.insert_element_before(borders, "w:shd", "w:tblLayout", "w:tblCellMar", *TBLPR_TAIL)


def _cell_margins(table: Table, cm: float) -> None:
    margins = OxmlElement("w:tblCellMar")
    for edge in ("left", "right"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:w"), str(round(cm * 567)))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    table._tbl.tblPr.insert_element_before(margins, *TBLPR_TAIL)


def widths(table: Table, cm: Sequence[float]) -> None:
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for column, width in zip(table.columns, cm, strict=True):
        column.width = Cm(width)
        for cell in column.cells:
            cell.width = Cm(width)


def keep_together(row: Any) -> None:
    """The row is never split across pages (the signature block stays whole)."""
    row._tr.get_or_add_trPr().insert_element_before(OxmlElement("w:cantSplit"), "w:trHeight", *TRPR_AFTER_HEIGHT)


def layout_table(doc: Document, cols_cm: Sequence[float], rows: int = 1) -> Table:
    """A borderless table that places blocks side by side (header block, signature block)."""
    table = doc.add_table(rows=rows, cols=len(cols_cm))
    _borders(table, "nil")
    widths(table, cols_cm)
    return table


def fit_columns(weights: Sequence[float], minimums: Sequence[float], total: float) -> list[float] | None:
    """Column widths adding up to `total`: each column its share by weight, never less than its minimum
    (what a column needs beyond its share is taken from the others, by weight). None when the minimums
    alone are wider than `total`."""
    if sum(minimums) > total:
        return None
    fixed: dict[int, float] = {}
    while True:
        free = total - sum(fixed.values())
        open_weight = sum(w for i, w in enumerate(weights) if i not in fixed)
        if open_weight <= 0:  # every column at its minimum: the rest goes to all, by weight
            return [fixed[i] + free * w / sum(weights) for i, w in enumerate(weights)]
        out = [fixed.get(i, w * free / open_weight) for i, w in enumerate(weights)]
        short = {i for i, w in enumerate(out) if i not in fixed and w < minimums[i]}
        if not short:
            return out
        fixed.update({i: minimums[i] for i in short})


def column_minimums(headers: Sequence[str], rows: Sequence[Sequence[str]], size: float) -> list[float]:
    """The narrowest each column may be at font size `size` without breaking a word: its longest word
    (the header's in bold) and the cell's margins."""
    return [max([longest_word_cm(title, size, bold=True)] + [longest_word_cm(r[i], size) for r in rows])
            + 2 * CELL_MARGIN_CM + WORD_ROOM_CM for i, title in enumerate(headers)]


def table_columns(headers: Sequence[str], cols_cm: Sequence[float], rows: Sequence[Sequence[str]],
                  total: float = TEXT_WIDTH_CM) -> tuple[list[float], float]:
    """Widths of the columns (`cols_cm` as weights, scaled to `total`, each wide enough for its longest
    word) and the font size: 13 pt, or smaller down to 11 pt when the longest words need it."""
    size = float(TABLE_PT)
    while True:
        minimums = column_minimums(headers, rows, size)
        found = fit_columns(cols_cm, minimums, total)
        if found is not None:
            return found, size
        if size <= TABLE_PT_SMALLEST:  # words too long for any width: split as the renderer does
            return [m * total / sum(minimums) for m in minimums], size
        size -= 1


def data_table(doc: Document, headers: Sequence[str], cols_cm: Sequence[float], rows: Sequence[Sequence[str]],
               *, left: Sequence[int] = (), empty: str = "Không phát sinh trong kỳ báo cáo") -> Table:
    """A ruled table as wide as the text: columns in proportion to `cols_cm`, each at least as wide as
    its longest word so that no word is broken between letters; bold header row repeated on each page,
    one row per item (columns in `left` left-aligned, the others centred), or one merged row saying
    there is nothing."""
    table = doc.add_table(rows=1, cols=len(headers))
    _borders(table, "single")
    _cell_margins(table, CELL_MARGIN_CM)
    cols, size = table_columns(headers, cols_cm, rows)
    widths(table, cols)  # first: added rows and the merged row take the grid's widths
    for cell, title in zip(table.rows[0].cells, headers, strict=True):
        cell_line(cell, title, first=True, size=size, bold=True)
    header = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header.insert_element_before(repeat, *TRPR_AFTER_HEIGHT[1:])
    for values in rows:
        row = table.add_row()
        keep_together(row)
        cells = row.cells
        for i, (cell, value) in enumerate(zip(cells, values, strict=True)):
            cell_line(cell, value, first=True, size=size, align=LEFT if i in left else CENTER, before=2, after=2)
    if not rows:
        cells = table.add_row().cells
        merged = cells[0].merge(cells[-1])
        cell_line(merged, empty, first=True, size=size, italic=True, before=2, after=2)
    return table
