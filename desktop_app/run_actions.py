"""Run > Train or resume (Ctrl+R) and Run > Export (Ctrl+E): the main window's
keyboard shortcuts for training and exporting, each in its menu item.

Export is one item for the whole window, so one shortcut never means two
things: on the Animate page it exports the animation (as its Export button
does), on the Remix page the flip-book, everywhere else the time-lapse GIF of
the run on the Train page.
"""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QPushButton

TRAIN_SHORTCUT = "Ctrl+R"
EXPORT_SHORTCUT = "Ctrl+E"


class RunActions(QObject):
    """Adds the two items to `menu` of a MainWindow whose pages are built."""

    def __init__(self, window: QMainWindow, menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        first = menu.actions()[0] if menu.actions() else None
        self.train_action = self._action("&Train or resume", "trainOrResumeAction",
                                         TRAIN_SHORTCUT, self.train_or_resume)
        self.export_action = self._action("E&xport time-lapse GIF…", "exportAction",
                                          EXPORT_SHORTCUT, self.export)
        menu.insertActions(first, [self.train_action, self.export_action])
        if first is not None:
            menu.insertSeparator(first)
        window.tabs.currentChanged.connect(self._name_export)
        menu.aboutToShow.connect(self._name_export)

    def _action(self, text: str, name: str, shortcut: str, slot) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def train_or_resume(self) -> None:
        """Show the Train page and start a run, or resume the paused one."""
        self.window.tabs.setCurrentWidget(self.window.train_page)
        self.window.train_page.train_or_resume()

    def _animation_export(self) -> QPushButton | None:
        """The Animate page's Export button while that page is shown."""
        if self.window.tabs.currentWidget() is not self.window.animate_page:
            return None
        return self.window.animate_page.findChild(QPushButton, "exportAnimationButton")

    def _on_remix(self) -> bool:
        remix = getattr(self.window, "remix_page", None)
        return remix is not None and self.window.tabs.currentWidget() is remix

    def _name_export(self, *_: object) -> None:
        if self._on_remix():
            text = "E&xport flip-book…"
        elif self._animation_export() is not None:
            text = "E&xport animation…"
        else:
            text = "E&xport time-lapse GIF…"
        self.export_action.setText(text)

    def export(self) -> None:
        """Export what the page shown exports, or say why nothing can be yet."""
        if self._on_remix():
            self.window.remix_page.export_flipbook()   # says on the page why not, if so
            return
        button = self._animation_export()
        if button is not None:
            if button.isEnabled():
                button.click()
            else:
                self.window.statusBar().showMessage("Nothing to export yet: the animation "
                                                    "needs a run and two keyframes.")
            return
        if self.window.train_page.export_button.isEnabled():
            self.window.export_timelapse()
        else:
            self.window.statusBar().showMessage("Nothing to export yet: a time-lapse needs a "
                                                "run with samples (train one first).")
