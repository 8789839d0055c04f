"""The report's one template rendered to HTML, and that HTML to PDF (WeasyPrint).

HTML and PDF come from ``reports/report.html`` with the same content; the PDF differs only in
leaving out the on-screen toolbar and in taking the stylesheet from disk. Fonts: the print
stylesheet asks for Noto Sans CJK SC, which ``scripts/ensure-fonts`` installs from Debian
(fonts-noto-cjk) with libharfbuzz-subset, so WeasyPrint embeds a subset in each PDF.
"""

from __future__ import annotations

import faulthandler
import hashlib
import importlib.metadata
import multiprocessing
import os
import select
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import segno

from creditbridge import __version__
from creditbridge.core.errors import Busy, DomainError
from creditbridge.presentation import formatting, i18n, templating
from creditbridge.presentation.templating import environment
from creditbridge.reference import divisions, industries
from creditbridge.reports import domain

if TYPE_CHECKING:
    from weasyprint import CSS  # type: ignore[import-untyped]
    from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]

    from creditbridge.consent.service import Letter
    from creditbridge.reports.service import Catalog, FieldInfo

T = TypeVar("T")
STATIC_DIR: Final = templating.STATIC_DIR / "reports"
STYLESHEET: Final = STATIC_DIR / "report.css"
MAX_COLUMNS: Final = 6
_UNIT_FEN: Final = {"yuan": Decimal(100), "wan_yuan": Decimal(1_000_000)}
_UNIT_SUFFIX: Final = {
    "person": ("人", " persons"),
    "month": ("个月", " months"),
    "kwh": ("千瓦时", " kWh"),
    "m3": ("立方米", " m³"),
    "m2": ("平方米", " m²"),
    "percent": ("%", "%"),
}


def qr_data_uri(url: str) -> str:
    """The verification link as a QR code (SVG data URI: the CSP admits data: images)."""
    # A fixed mask pattern (any of the eight is valid, ISO/IEC 18004 §7.8): choosing the "best"
    # one scores all eight and took 3.5 of the HTML report's ~10 ms.
    data_uri: str = segno.make_qr(url, error="m", mask=2).svg_data_uri(scale=3, border=2)
    return data_uri


def format_value(field: FieldInfo, value: Any, lang: Literal["zh", "en"]) -> str:
    """A record's value as the report shows it: 万元, 年月日, labels of coded values."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or field.type == "boolean":
        if isinstance(value, bool):
            return ("是" if value else "否") if lang == "zh" else ("Yes" if value else "No")
        return str(value)
    text = str(value)
    if "*" in text:  # masked: a starred figure reads ***万元 as a whole, never as partial digits
        return formatting.format_masked_figure(field.type, field.unit, text, lang) or text
    if field.type == "amount" and field.unit in _UNIT_FEN:
        try:
            fen = int(Decimal(text) * _UNIT_FEN[field.unit])
        except InvalidOperation:
            return text
        return i18n.format_money(fen, lang)
    if field.type == "date":
        day = domain.parse_day(text)
        return i18n.format_date(day, lang) if day else text
    if field.type == "period" and len(text) == 7 and text[4] == "-":
        year, month = text[:4], int(text[5:7])
        return f"{year}年{month}月" if lang == "zh" else f"{year}-{month:02d}"
    if field.type == "division_code":
        name = divisions.name(text)
        return f"{name}（{text}）" if name else text
    if field.type == "industry_code":
        division = industries.division(text[:2]) if len(text) >= 2 else None
        return f"{text} {division.name_zh}" if division and lang == "zh" else text
    if field.type == "enum" and field.enum_labels:
        label = field.enum_labels.get(text)
        if label and lang == "zh":
            return label
    if field.unit in _UNIT_SUFFIX:
        return text + _UNIT_SUFFIX[field.unit][0 if lang == "zh" else 1]
    return text


def columns(fields: tuple[FieldInfo, ...]) -> tuple[list[FieldInfo], list[FieldInfo]]:
    """Table columns (short fields, at most MAX_COLUMNS) and long fields shown under the row."""
    short = [f for f in fields if f.code != "uscc" and f.type != "text"]
    long = [f for f in fields if f.type == "text"]
    return short[:MAX_COLUMNS], long + short[MAX_COLUMNS:]


def render_report(
    content: Mapping[str, Any],
    sealed: Mapping[str, Any],
    *,
    catalog: Catalog,
    lang: Literal["zh", "en"] = "zh",
    public_base_url: str,
    for_pdf: bool = False,
) -> str:
    """The report as HTML. Its verification link and QR code point at the node's configured
    public address (``CREDITBRIDGE_PUBLIC_BASE_URL``), never at the request's: taken from the
    Host header, ``Host: evil.example`` once printed ``http://evil.example/verify/…`` into a
    genuinely signed report."""
    template = environment.get_template("reports/report.html")
    verify_path = f"/verify/{content['report_no']}"
    verify_url = public_base_url.strip().rstrip("/") + verify_path
    return template.render(
        lang=lang,
        t=partial(i18n.translate, lang),
        label=partial(i18n.label, lang),
        pick=partial(i18n.pick, lang),
        show=partial(format_value, lang=lang),
        columns=columns,
        datasets=catalog.datasets,
        c=content,
        issued_at=_parse_instant(content["issued_at"]),
        registration_date=domain.parse_day(content["subject"]["registration_date"]),
        sealed=sealed,
        seal_json=domain.html_seal_json(sealed),
        seal_id=domain.HTML_SEAL_ID,
        qr=qr_data_uri(verify_url),
        verify_url=verify_url,
        for_pdf=for_pdf,
        version=__version__,
        flag_rules={f.code: f for f in _rules().flags},
    )


def render_consent_letter(
    letter: Letter,
    *,
    categories: Mapping[str, Any],
    lang: Literal["zh", "en"] = "zh",
    public_base_url: str,
) -> str:
    """A consent's 授权书 as HTML; its QR code and links point at the node's configured public
    address, as a report's do."""
    base = public_base_url.strip().rstrip("/")
    verify_url = base + letter.verify_path
    return environment.get_template("consent/letter.html").render(
        lang=lang,
        t=partial(i18n.translate, lang),
        label=partial(i18n.label, lang),
        letter=letter,
        a=letter.artefact,
        categories=categories,
        verify_url=verify_url,
        verify_page=base + "/verify",
        qr=qr_data_uri(verify_url),
    )


def _rules() -> domain.ReportRules:
    from creditbridge.reports.service import report_rules

    return report_rules()


def _parse_instant(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


# --- PDF: rendered in a bounded pool of processes ------------------------------------------------
#
# WeasyPrint holds the GIL for the whole render (about a second for a long report), so a render in
# the server's own process stalls every other request of the worker, the event loop included; and
# a crash in its native libraries (pango, harfbuzz, fontconfig) took the whole server down. Each
# render therefore runs in a child process of a small pool, created on first use with the
# forkserver start method (a fresh interpreter: no inherited sockets, locks or threads).

NATIVE_THREAD_VARIABLES: Final = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_POLL_SECONDS: Final = 0.1
_CACHE_BYTES: Final = 64 * 1024 * 1024

client_gone: ContextVar[Callable[[], bool] | None] = ContextVar("client_gone", default=None)
"""Set by the route that asks for a PDF: true once its client has disconnected. A render not yet
started is then never submitted, and one that finishes is thrown away (the request fails, so the
issuance is rolled back: a report nobody received is not on record as issued)."""


class ClientGone(DomainError):
    """Raised while a PDF is rendered for a client that has disconnected; nobody reads the answer."""

    code = "CB-CLIENT-GONE"
    status_code = 499  # nginx's "client closed request": never seen by the client
    title = "客户端已断开"


def pin_native_threads() -> None:
    """One thread per native math/threading library (OpenMP, OpenBLAS, MKL) in this process and its
    children: they otherwise start a thread per core in every worker and renderer."""
    for name in NATIVE_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def _exit_with_server(server_pid: int) -> None:
    """End this renderer when the server process that asked for it ends, however it ends.

    Neither the parent-death signal nor a closed pipe can tell: a renderer's parent is the
    forkserver, and the forkserver hands every child the write end of its own liveness pipe, so a
    SIGKILLed or crashed server left the forkserver and its renderers waiting on each other for
    ever (found by the soak test). A thread waits on a pidfd of the server instead (Linux 5.3+),
    or polls it where there is none."""

    def watch() -> None:
        try:
            descriptor = os.pidfd_open(server_pid)
        except (AttributeError, OSError):
            while True:
                try:
                    os.kill(server_pid, 0)
                except ProcessLookupError:
                    os._exit(0)
                except PermissionError:
                    pass
                threading.Event().wait(1.0)
        select.select([descriptor], [], [])
        os._exit(0)

    threading.Thread(target=watch, name="watch-server", daemon=True).start()


def _start_renderer(server_pid: int) -> None:
    """Runs once in each renderer process."""
    _exit_with_server(server_pid)
    pin_native_threads()
    # A render is seconds of CPU; the server's other requests are milliseconds. At a lower priority
    # the renderers take the cores only when the server does not need them, so a burst of PDFs
    # delays PDFs, not /healthz and the pages (issue 22, point 2).
    os.nice(RENDERER_NICENESS)
    faulthandler.enable()  # a crash prints its Python stack to the server's log (stderr)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    _pdf_assets()  # fonts and the stylesheet parsed once per process, not per report


RENDERER_NICENESS: Final = 10


class _Renderers:
    """The pool of renderer processes of this server process, created on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self.workers = 2
        self.in_process = False

    def run(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """``function(*args)`` in a renderer process (``function`` importable by name)."""
        with self._lock:
            if self._pool is None:
                methods = multiprocessing.get_all_start_methods()
                context = multiprocessing.get_context(
                    "forkserver" if "forkserver" in methods else "spawn"
                )
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=context,
                    initializer=_start_renderer,
                    initargs=(os.getpid(),),
                )
            return self._pool.submit(function, *args)

    def discard(self) -> None:
        """Forget the pool (one whose process died, or at shutdown): the next render starts anew."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


renderers: Final = _Renderers()


def configure_renderers(*, workers: int, in_process: bool = False) -> None:
    """The size of the pool (``CREDITBRIDGE_PDF_WORKERS``); takes effect when it is next created.
    ``in_process``: the old path, kept as the benchmark's baseline (``CREDITBRIDGE_PDF_IN_PROCESS``)."""
    renderers.workers = workers
    renderers.in_process = in_process


def shutdown_renderers() -> None:
    renderers.discard()


class _PdfCache:
    """PDFs by the digest of exactly what they were rendered from (the HTML, the stylesheet and
    the software's version), least recently used first out, within a byte budget.

    Not by (enterprise, data version): every issuance carries its own report number, time and
    signature in the document, and every query must be registered and audited, so a new issuance
    is never served another's file. What repeats is the rendering of the same issued HTML (a
    retried download of one report number, a re-render for verification), and that is what hits.
    """

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._size = 0
        self._items: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            pdf = self._items.get(key)
            if pdf is not None:
                self._items.move_to_end(key)
            return pdf

    def put(self, key: bytes, pdf: bytes) -> None:
        if len(pdf) > self._budget // 4:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = pdf
            self._size += len(pdf)
            while self._size > self._budget:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


pdf_cache: Final = _PdfCache(_CACHE_BYTES)


def pdf_key(html: str) -> bytes:
    """The cache key of the PDF of ``html``."""
    return hashlib.sha256(template_version() + html.encode()).digest()


@lru_cache(maxsize=1)
def template_version() -> bytes:
    """What, besides the HTML itself, decides a PDF's bytes. Read without importing WeasyPrint:
    the server process never loads it (the renderers do), see the module's PDF section."""
    weasyprint_version = importlib.metadata.version("weasyprint")
    return hashlib.sha256(
        f"{__version__}|{weasyprint_version}|".encode() + STYLESHEET.read_bytes()
    ).digest()


@lru_cache(maxsize=1)
def _pdf_assets() -> tuple[CSS, FontConfiguration]:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    return CSS(filename=str(STYLESHEET), font_config=fonts), fonts


def _write_pdf(html: str) -> bytes:
    """The render itself; runs in a renderer process."""
    from weasyprint import HTML

    stylesheet, fonts = _pdf_assets()
    pdf: bytes = HTML(string=html, base_url=str(STATIC_DIR)).write_pdf(
        stylesheets=[stylesheet], font_config=fonts
    )
    return pdf


def html_to_pdf(html: str) -> bytes:
    """The PDF of a rendered report (A4, fonts subset and embedded), rendered in a renderer process
    while the calling thread waits. Raises :class:`ClientGone` when :data:`client_gone` says the
    client left, and :class:`~creditbridge.core.errors.Busy` when the renderer process died."""
    key = pdf_key(html)
    cached = pdf_cache.get(key)
    if cached is not None:
        return cached
    gone = client_gone.get()
    if gone is not None and gone():
        raise ClientGone()
    if renderers.in_process:
        return _write_pdf(html)
    future = renderers.run(_write_pdf, html)
    try:
        while True:
            try:
                pdf = future.result(timeout=_POLL_SECONDS)
                break
            except FuturesTimeout:
                if gone is not None and gone():
                    future.cancel()  # a render already running ends on its own; nobody waits
                    raise ClientGone() from None
    except BrokenProcessPool as exc:
        # A crash in the renderer's native libraries: the server stays up, this request may retry.
        renderers.discard()
        raise Busy("报告 PDF 生成进程异常退出，请重试") from exc
    if gone is not None and gone():
        raise ClientGone()
    pdf_cache.put(key, pdf)
    return pdf
