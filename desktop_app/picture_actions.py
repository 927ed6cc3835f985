"""The Gallery and Animate menus: what an artist does with pictures, each item
with its keyboard shortcut, and each shown only when the current run's model
can do it (desktop_app.run_capabilities).

    Gallery > Generate                Ctrl+G  (from any page: shows the Gallery)
    Gallery > Use as keyframe         Enter   (on the tiles; arrows move between them)
    Gallery > Play process                    (models with a process of their own)
    Gallery > Reconstruct a picture…          (models that reconstruct: VAEs)
    Gallery > Vary a picture…                 (models that vary pictures: diffusion, flow)
    Animate > Play or pause preview   Space   (on the Animate page)

Space belongs to the preview on the Animate page, but a control the keyboard
reached (a button, check box, list or combo box Tab moved to) keeps Space for
itself, as everywhere in Qt; that page's buttons take no focus from a mouse
click, so clicking one and then pressing Space still plays or pauses.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QComboBox, QMainWindow, QMenu,
                               QWidget)

GENERATE_SHORTCUT = "Ctrl+G"
KEYFRAME_SHORTCUTS = ("Return", "Enter")   # the main keyboard's and the keypad's
PLAY_SHORTCUT = "Space"
# Controls that Space operates when the keyboard has moved to them.
SPACE_USERS = (QAbstractButton, QComboBox, QAbstractItemView)


class SpaceForFocusedControls(QObject):
    """Event filter: a focused control that Space operates keeps Space (the
    window's Space shortcut does not fire over it)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and event.key() == Qt.Key.Key_Space \
                and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            event.accept()      # the control's own key press follows
        return False


class PictureActions(QObject):
    """Adds the Gallery and Animate menus before `before` (the Help menu) of a
    MainWindow whose pages are built."""

    def __init__(self, window: QMainWindow, before: QAction | None = None) -> None:
        super().__init__(window)
        self.window = window
        gallery, studio = window.gallery_page, window.animate_page
        bar = window.menuBar()
        self.gallery_menu = QMenu("&Gallery", bar, objectName="galleryMenu")
        self.animate_menu = QMenu("&Animate", bar, objectName="animateMenu")
        bar.insertMenu(before, self.gallery_menu)
        bar.insertMenu(before, self.animate_menu)

        self.generate_action = self._action(self.gallery_menu, "&Generate", "generateAction",
                                            self.generate, GENERATE_SHORTCUT)
        self.keyframe_action = self._action(self.gallery_menu, "&Use as keyframe",
                                            "useAsKeyframeAction", self.use_as_keyframe,
                                            *KEYFRAME_SHORTCUTS)
        # Enter acts on the tiles only: elsewhere it confirms fields and dialogs.
        self.keyframe_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        gallery.grid.addAction(self.keyframe_action)
        self.gallery_menu.addSeparator()
        self.process_action = self._action(self.gallery_menu, "&Play process", "playProcessAction",
                                           lambda: self._click(gallery.process_button))
        self.reconstruct_action = self._action(
            self.gallery_menu, "&Reconstruct a picture…", "reconstructAction",
            lambda: self._click(gallery.reconstruction.open_button))
        self.vary_action = self._action(self.gallery_menu, "&Vary a picture…", "varyAction",
                                        lambda: self._click(gallery.variations.open_button))

        self.play_action = self._action(self.animate_menu, "&Play or pause preview",
                                        "playPauseAction", self.play_or_pause, PLAY_SHORTCUT)
        self._space_filter = SpaceForFocusedControls(self)
        for control in studio.findChildren(QWidget):
            if isinstance(control, SPACE_USERS):
                control.installEventFilter(self._space_filter)
            if isinstance(control, QAbstractButton):
                control.setFocusPolicy(Qt.FocusPolicy.TabFocus)

        gallery.runChanged.connect(self.show_by_capability)
        self.gallery_menu.aboutToShow.connect(self.show_by_capability)
        window.tabs.currentChanged.connect(self._page_changed)
        self.show_by_capability()
        self._page_changed()

    def _action(self, menu: QMenu, text: str, name: str, slot, *shortcuts: str) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        if shortcuts:
            action.setShortcuts([QKeySequence(keys) for keys in shortcuts])
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def show_by_capability(self, *_: object) -> None:
        """Items for what the current run's model can do; the others hidden."""
        from engine.models.base import PROCESS, RECONSTRUCT, VARY

        abilities = self.window.gallery_page.abilities
        self.process_action.setVisible(abilities.can(PROCESS))
        self.reconstruct_action.setVisible(abilities.can(RECONSTRUCT))
        self.vary_action.setVisible(abilities.can(VARY))

    def _page_changed(self, *_: object) -> None:
        # Space means play or pause only where a preview plays.
        self.play_action.setEnabled(self.window.tabs.currentWidget() is self.window.animate_page)

    def _click(self, button: QAbstractButton) -> None:
        self.window.tabs.setCurrentWidget(self.window.gallery_page)
        if button.isEnabled():
            button.click()
        else:
            self.window.statusBar().showMessage("Select a tile first." if button is
                                                self.window.gallery_page.process_button
                                                else "Open a run first.")

    # -- the items --------------------------------------------------------------------------
    def generate(self) -> None:
        """Show the Gallery and generate its page; the tiles get the keyboard, so the
        arrows move between them and Enter uses one as a keyframe."""
        gallery = self.window.gallery_page
        self.window.tabs.setCurrentWidget(gallery)
        if gallery.run_dir is None:
            self.window.statusBar().showMessage("Nothing to generate from yet: open a run or a "
                                                "model file, or try a trained model.")
            return
        gallery.generate()
        gallery.grid.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def use_as_keyframe(self) -> None:
        gallery = self.window.gallery_page
        if not gallery.selected_seeds():
            self.window.statusBar().showMessage("Select a tile first (the arrows move between "
                                                "them).")
            return
        gallery.use_as_keyframes()

    def play_or_pause(self) -> None:
        studio = self.window.animate_page
        if self.window.tabs.currentWidget() is studio:
            studio.play_button.toggle()
