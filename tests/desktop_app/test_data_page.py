"""The Data page, driven by objectName: choose, preview, see skips, cancel, use for training."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (QCheckBox, QComboBox, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QTreeWidget)

from desktop_app.responsiveness import StallProbe
from desktop_app.widgets.image_view import ImageView
from tests.engine import messy_images as messy


def find(window, kind, name):
    widget = window.findChild(kind, name)
    assert widget is not None, name
    return widget


def labelled_folder(root: Path) -> Path:
    for cls, n in (("circles", 3), ("squares", 2)):
        for i in range(n):
            messy.plain(root / cls / f"{i}.png", colour=(60 * i, 90, 200))
    (root / "squares" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    (root / "squares" / "readme.txt").write_text("hi")
    return root


def choose_folder(window, qtbot, path: Path, labels: bool = False):
    window.tabs.setCurrentWidget(window.data_page)
    source = find(window, QComboBox, "dataSourceCombo")
    source.setCurrentIndex(source.findData("folder"))
    find(window, QLineEdit, "dataPathEdit").setText(str(path))
    find(window, QCheckBox, "dataLabelsCheck").setChecked(labels)


def test_preview_counts_histogram_and_skips(window, qtbot, tmp_path):
    root = labelled_folder(tmp_path / "shapes ünï")
    choose_folder(window, qtbot, root, labels=True)
    assert "?labels=subfolders" in find(window, QLabel, "dataSpecLabel").text()
    use = find(window, QPushButton, "dataUseButton")
    assert not use.isEnabled()
    with qtbot.waitSignal(window.data_page.scanEnded, timeout=20_000):
        qtbot.mouseClick(find(window, QPushButton, "dataScanButton"), Qt.MouseButton.LeftButton)
    summary = find(window, QLabel, "dataSummaryLabel").text()
    assert "5 images, 28 x 28, colour (RGB)" in summary, summary
    assert "2 of 7 files skipped" in summary
    skipped = find(window, QTreeWidget, "dataSkippedList")
    reasons = {Path(skipped.topLevelItem(i).text(0)).name: skipped.topLevelItem(i).text(1)
               for i in range(skipped.topLevelItemCount())}
    assert set(reasons) == {"broken.jpg", "readme.txt"}
    assert "damaged" in reasons["broken.jpg"] or "not a picture" in reasons["broken.jpg"]
    histogram = window.data_page.histogram
    assert histogram.names == ("circles", "squares") and histogram.counts == (3, 2)
    assert window.findChild(ImageView, "dataPreviewGrid").image is not None
    assert find(window, QProgressBar, "dataProgress").value() == 1
    assert use.isEnabled()
    qtbot.mouseClick(use, Qt.MouseButton.LeftButton)
    combo = window.findChild(QComboBox, "dataCombo")
    assert combo.currentData() == f"folder:{root}?labels=subfolders"
    assert window.tabs.currentWidget() is window.train_page


def test_changing_a_setting_after_loading_asks_for_a_new_load(window, qtbot, tmp_path):
    root = labelled_folder(tmp_path / "s")
    choose_folder(window, qtbot, root)
    with qtbot.waitSignal(window.data_page.scanEnded, timeout=20_000):
        window.data_page.scan()
    use = find(window, QPushButton, "dataUseButton")
    assert use.isEnabled()
    fit = find(window, QComboBox, "dataFitCombo")
    fit.setCurrentIndex(fit.findData("pad"))
    assert not use.isEnabled()


def test_a_bad_folder_reaches_the_error_dialog_and_the_page_recovers(window, qtbot, tmp_path):
    (tmp_path / "empty").mkdir()
    choose_folder(window, qtbot, tmp_path / "empty")
    with qtbot.waitSignal(window.errors.shown, timeout=20_000) as shown:
        window.data_page.scan()
    assert "no images found" in shown.args[0].message
    qtbot.waitUntil(lambda: find(window, QPushButton, "dataScanButton").isEnabled(), timeout=5_000)
    assert not find(window, QPushButton, "dataUseButton").isEnabled()


def test_cancel_stops_a_big_scan_within_a_second_and_the_gui_stays_live(window, qtbot, tmp_path):
    root = tmp_path / "big"
    # Big enough that the scan is still running when Cancel is pressed, on any machine.
    source = messy.plain(root / "0000.png", size=(800, 800)).read_bytes()
    for i in range(1, 1000):
        (root / f"{i:04d}.png").write_bytes(source)
    choose_folder(window, qtbot, root)
    progress = find(window, QProgressBar, "dataProgress")
    probe = StallProbe()
    probe.start()
    window.data_page.scan()
    qtbot.waitUntil(lambda: progress.maximum() == 1000 and progress.value() > 0, timeout=20_000)
    cancelled_at = time.monotonic()
    qtbot.mouseClick(find(window, QPushButton, "dataCancelButton"), Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.data_page.scanEnded, timeout=5_000):
        pass
    took = time.monotonic() - cancelled_at
    probe.stop()
    worst = probe.worst_stall_ms / 1000
    assert took < 1.0, f"cancel took {took:.2f} s"
    assert "cancelled" in find(window, QLabel, "dataSummaryLabel").text()
    assert worst < 0.5, f"the GUI thread stalled {worst:.2f} s"
    assert find(window, QPushButton, "dataScanButton").isEnabled()


def test_dropping_a_folder_loads_it(window, qtbot, tmp_path):
    root = tmp_path / "dropped"
    messy.plain(root / "a.png")
    messy.grey(root / "b.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(root))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.data_page.scanEnded, timeout=20_000):
        window.data_page.dropEvent(event)
    assert window.data_page.source_combo.currentData() == "folder"
    assert "2 images" in find(window, QLabel, "dataSummaryLabel").text()


def test_bundled_mnist_needs_no_path(window, qtbot):
    window.tabs.setCurrentWidget(window.data_page)
    source = find(window, QComboBox, "dataSourceCombo")
    source.setCurrentIndex(source.findData("mnist"))
    assert not find(window, QLineEdit, "dataPathEdit").isEnabled()
    with qtbot.waitSignal(window.data_page.scanEnded, timeout=30_000):
        qtbot.mouseClick(find(window, QPushButton, "dataScanButton"), Qt.MouseButton.LeftButton)
    assert "60,000 images, 28 x 28, greyscale" in find(window, QLabel, "dataSummaryLabel").text()
    assert window.data_page.histogram.counts and sum(window.data_page.histogram.counts) == 60_000


def test_the_first_label_is_whole_beside_the_long_source_list(window, qtbot):
    from PySide6.QtGui import QFont, QFontMetrics

    window.tabs.setCurrentWidget(window.data_page)
    label = next(w for w in window.data_page.findChildren(QLabel) if w.text() == "Source")
    combo = find(window, QComboBox, "dataSourceCombo")
    for points in (11, 13):                     # the desktop fonts of the screenshot review
        font = QFont(window.font())
        font.setPointSize(points)
        window.data_page.setFont(font)
        window.resize(1366, 768)
        qtbot.wait(20)
        assert label.width() >= label.sizeHint().width(), f"'Source' clipped at {points} pt"
        assert combo.width() >= combo.minimumSizeHint().width()
        # The class names under the histogram's bars have room below their baseline.
        axis = window.data_page.histogram.plot.getAxis("bottom")
        assert axis.height() >= QFontMetrics(font).height(), f"class names clipped at {points} pt"
    # The long entries are whole in the open list and in their tooltips.
    assert combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)
