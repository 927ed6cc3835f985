"""Light and dark: the app follows the system colour scheme, or the one chosen
in View > Colour scheme (System, Light, Dark), remembered in the app's settings.

Where the platform can switch its own palette (Qt's style hints; Windows, macOS
and recent desktops on Linux), the app keeps the native palette. Where it
cannot (an older desktop, the offscreen platform), the app sets a palette of
its own for the wanted scheme, so the choice always takes effect. Widgets that
draw their own colours (the pyqtgraph plots, the picture views) restyle
themselves on the palette change every widget receives; labels that carry a
warning or an error colour name a tone (`set_tone`), whose colour follows the
scheme the same way.
"""
from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QWidget

from desktop_app.app_settings import app_settings

SETTINGS_KEY = "view/colorScheme"


class Scheme(str, Enum):
    """The choice in the View menu; its value is what the settings file keeps."""
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


MENU_TEXT = {Scheme.SYSTEM: "&System", Scheme.LIGHT: "&Light", Scheme.DARK: "&Dark"}
ACTION_NAMES = {Scheme.SYSTEM: "schemeSystemAction", Scheme.LIGHT: "schemeLightAction",
                Scheme.DARK: "schemeDarkAction"}

# Foreground colours of toned labels, chosen for at least 4.5:1 contrast on the
# scheme's window colour (WCAG AA for normal text).
TONES = {
    False: {"warning": "#8a5a00", "error": "#b3261e", "info": "#1f5fb4", "muted": "#5f5f5f"},
    True: {"warning": "#f0b040", "error": "#ff8a80", "info": "#7ab4ff", "muted": "#a8a8a8"},
}

# The palettes used where the platform cannot switch its own: Fusion's roles,
# with neutral greys and one blue accent.
_LIGHT = {"Window": "#efefef", "WindowText": "#1b1b1b", "Base": "#ffffff",
          "AlternateBase": "#f5f5f5", "ToolTipBase": "#ffffdc", "ToolTipText": "#1b1b1b",
          "PlaceholderText": "#6e6e6e", "Text": "#1b1b1b", "Button": "#efefef",
          "ButtonText": "#1b1b1b", "BrightText": "#ffffff", "Light": "#ffffff",
          "Midlight": "#e3e3e3", "Mid": "#a0a0a0", "Dark": "#a0a0a0", "Shadow": "#767676",
          "Highlight": "#3070c8", "HighlightedText": "#ffffff", "Link": "#1f5fb4",
          "LinkVisited": "#7a3fa0", "Accent": "#3070c8"}
_DARK = {"Window": "#2d2d30", "WindowText": "#e6e6e6", "Base": "#1f1f22",
         "AlternateBase": "#29292c", "ToolTipBase": "#3a3a3e", "ToolTipText": "#e6e6e6",
         "PlaceholderText": "#9a9a9a", "Text": "#e6e6e6", "Button": "#3a3a3e",
         "ButtonText": "#e6e6e6", "BrightText": "#ffffff", "Light": "#505055",
         "Midlight": "#434347", "Mid": "#2a2a2d", "Dark": "#1a1a1c", "Shadow": "#0c0c0c",
         "Highlight": "#3d7fd9", "HighlightedText": "#ffffff", "Link": "#7ab4ff",
         "LinkVisited": "#c39ae6", "Accent": "#3d7fd9"}
# Disabled text in either scheme: clearly greyed, still legible.
_DISABLED = {False: "#8c8c8c", True: "#7c7c80"}


def is_dark(palette: QPalette) -> bool:
    """Whether a palette is a dark one (by its window colour alone: a toned
    label's own text colour must not change the answer)."""
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def own_palette(dark: bool) -> QPalette:
    """The app's own palette for a scheme (where the platform has none to give)."""
    palette = QPalette()
    for role, colour in (_DARK if dark else _LIGHT).items():
        palette.setColor(QPalette.ColorRole[role], QColor(colour))
    for role in ("WindowText", "Text", "ButtonText", "PlaceholderText"):
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole[role],
                         QColor(_DISABLED[dark]))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight,
                     QColor("#6a6a6a" if dark else "#b0b0b0"))
    return palette


class _Toner(QObject):
    """Keeps each toned label's text in its tone's colour for the palette it is
    shown in: set at once, and again when the colour scheme changes (a palette
    change every widget receives). A palette rather than a style sheet: a style
    sheet would stop the desktop font from reaching the widgets under it."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange and isinstance(watched, QWidget):
            _apply_tone(watched)
        return False


_toner: _Toner | None = None


def _apply_tone(label: QWidget) -> None:
    tone = label.property("tone")
    if not tone:
        return
    colour = tone_colour(label, tone)
    palette = label.palette()
    if palette.color(QPalette.ColorRole.WindowText) != colour:   # else: no endless changes
        palette.setColor(QPalette.ColorRole.WindowText, colour)
        label.setPalette(palette)


def set_tone(label: QWidget, tone: str | None) -> None:
    """Colour a label's text as a warning, an error or muted (None: plain), in
    the current scheme's colour and again whenever the scheme changes."""
    global _toner
    if tone is not None and tone not in TONES[False]:
        raise ValueError(f"unknown tone {tone!r}; one of {', '.join(TONES[False])}")
    if _toner is None:
        _toner = _Toner()
    label.setProperty("tone", tone or "")
    label.removeEventFilter(_toner)
    if tone is None:
        label.setPalette(QPalette())   # the inherited palette again
        return
    label.installEventFilter(_toner)
    _apply_tone(label)


def tone_colour(widget: QWidget, tone: str) -> QColor:
    """A tone's colour in the scheme of `widget`'s palette (also for table items
    and painted text)."""
    return QColor(TONES[is_dark(widget.palette())][tone])


def saved_scheme() -> Scheme:
    """The scheme chosen last time; System if none was, or the file says nonsense."""
    value = app_settings().value(SETTINGS_KEY, Scheme.SYSTEM.value)
    try:
        return Scheme(str(value))
    except ValueError:
        return Scheme.SYSTEM


class ColourScheme(QObject):
    """Applies a Scheme to the application and the window, follows the system
    while the choice is System, and owns the View menu's three choices."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.choice = saved_scheme()
        self.dark = False      # the scheme in effect
        self.actions: dict[Scheme, QAction] = {}
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._apply)
        self._tell_platform()
        self._apply(hints.colorScheme())

    def add_menu(self, menu: QMenu) -> QMenu:
        """View > Colour scheme: System, Light, Dark (one checked)."""
        submenu = menu.addMenu("&Colour scheme")
        submenu.setObjectName("colourSchemeMenu")
        group = QActionGroup(self)
        group.setExclusive(True)
        for scheme in Scheme:
            action = QAction(MENU_TEXT[scheme], self.window, checkable=True)
            action.setObjectName(ACTION_NAMES[scheme])
            action.setChecked(scheme is self.choice)
            action.triggered.connect(lambda _=False, s=scheme: self.choose(s))
            group.addAction(action)
            submenu.addAction(action)
            self.actions[scheme] = action
        return submenu

    def choose(self, scheme: Scheme) -> None:
        """Switch to `scheme` now and remember it for the next launch."""
        self.choice = Scheme(scheme)
        if self.choice in self.actions:
            self.actions[self.choice].setChecked(True)
        settings = app_settings()
        settings.setValue(SETTINGS_KEY, self.choice.value)
        settings.sync()
        self._tell_platform()
        self._apply(QGuiApplication.styleHints().colorScheme())

    def _tell_platform(self) -> None:
        """Ask the platform for the chosen scheme too (title bars, native dialogs,
        its own palette), where it listens; System lets it follow the desktop."""
        hints = QGuiApplication.styleHints()
        if self.choice is Scheme.SYSTEM:
            hints.unsetColorScheme()
        else:
            hints.setColorScheme(Qt.ColorScheme.Dark if self.choice is Scheme.DARK
                                 else Qt.ColorScheme.Light)

    def _apply(self, system: Qt.ColorScheme) -> None:
        """Put the wanted scheme in effect; `system` is the platform's scheme now
        (also on each change, so the native palette is used once it matches)."""
        if self.choice is Scheme.SYSTEM:
            dark = system == Qt.ColorScheme.Dark   # Unknown: the light scheme
        else:
            dark = self.choice is Scheme.DARK
        app = QApplication.instance()
        if app.palette().resolveMask():
            # Ours (a palette someone set): back to the platform's own, which
            # Qt resolves against the platform theme, and keep it when it
            # already is the wanted scheme.
            app.setPalette(QPalette())
        if is_dark(app.palette()) != dark:
            app.setPalette(own_palette(dark))
        self.dark = dark
