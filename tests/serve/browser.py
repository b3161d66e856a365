#!/usr/bin/python3
"""digitnet-serve as a person uses it: a real headless Chromium opens the page,
draws each digit 0-9 as pointer strokes (mouse, pen and touch in turn) on the
canvas, and reads the prediction off the page; at least 9 of 10 must be right.
Then a number drawn wider than tall, and a photo through the file picker and
through drag-and-drop. Takes a screenshot (argument 4, or $TMP).
Usage: browser.py BIN_DIR MNIST_DIR MODEL_DIR [SCREENSHOT.png]"""
import math
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import Server, fail, newest_checkpoint  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


# ---- digits as handwriting: strokes of (x, y) in a unit box, y downwards ----
def arc(cx, cy, rx, ry, a0, a1, n=40):
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]


def line(*points, n=12):
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return out


def eight():
    return [(0.5 + 0.4 * math.sin(2 * t), 0.5 - 0.48 * math.cos(t))
            for t in (2 * math.pi * i / 80 for i in range(81))]


DIGITS = {
    0: [arc(0.5, 0.5, 0.45, 0.48, -90, 275)],
    1: [line((0.62, 0.02), (0.42, 0.98))],
    2: [arc(0.5, 0.3, 0.42, 0.27, 200, 400) + line((0.82, 0.47), (0.05, 0.97), (0.97, 0.97))],
    3: [arc(0.48, 0.27, 0.4, 0.24, 210, 450) + arc(0.48, 0.73, 0.46, 0.26, 270, 500)],
    4: [line((0.15, 0.0), (0.08, 0.6), (0.95, 0.6)), line((0.78, 0.05), (0.78, 1.0))],
    5: [line((0.22, 0.02), (0.17, 0.45)) + arc(0.5, 0.68, 0.45, 0.3, 235, 500), line((0.22, 0.02), (0.92, 0.02))],
    6: [line((0.75, 0.0), (0.45, 0.15), (0.2, 0.45), (0.12, 0.72), n=6) + arc(0.5, 0.72, 0.38, 0.26, 180, -180)],
    7: [line((0.05, 0.03), (0.95, 0.03), (0.4, 1.0))],
    8: [eight()],
    9: [arc(0.45, 0.3, 0.38, 0.26, 0, -360) + line((0.83, 0.3), (0.75, 1.0))],
}
KINDS = [interaction.POINTER_MOUSE, interaction.POINTER_PEN, interaction.POINTER_TOUCH]


def start_browser(profile):
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--user-data-dir=" + profile, "--window-size=1100,700", "--no-first-run"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def draw(driver, strokes, box, kind):
    """Real pointer input: down, moves, up, per stroke. box = (left, top, width, height) in the viewport."""
    left, top, width, height = box
    actions = ActionBuilder(driver, mouse=driver_pointer(kind), duration=0)
    for stroke in strokes:
        x, y = stroke[0]
        actions.pointer_action.move_to_location(int(left + x * width), int(top + y * height))
        actions.pointer_action.pointer_down()
        for x, y in stroke[1:]:
            actions.pointer_action.move_to_location(int(left + x * width), int(top + y * height))
        actions.pointer_action.pointer_up()
    actions.perform()


def driver_pointer(kind):
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    return PointerInput(kind, kind)


def answer_of(driver):
    """The page's answer once it answers the current drawing: (text, probability text)."""
    def settled(d):
        return d.execute_script(
            "return document.getElementById('answer').dataset.seq === document.getElementById('canvas').dataset.seq"
            " && document.getElementById('status').textContent !== 'reading…'")
    WebDriverWait(driver, 30, poll_frequency=0.05).until(settled)
    return driver.find_element(By.ID, "digit").text, driver.find_element(By.ID, "probability").text


def canvas_box(driver, width_share, aspect):
    """A box centred in the canvas, as tall as 70% of it, width = aspect x height."""
    r = driver.execute_script("const r = document.getElementById('canvas').getBoundingClientRect();"
                              "return [r.left, r.top, r.width, r.height];")
    h = 0.7 * r[3]
    w = min(aspect * h, width_share * r[2])
    return (r[0] + (r[2] - w) / 2, r[1] + (r[3] - h) / 2, w, h)


def draw_digits(driver):
    right = 0
    for digit, strokes in DIGITS.items():
        driver.find_element(By.ID, "clear").click()
        kind = KINDS[digit % len(KINDS)]
        draw(driver, strokes, canvas_box(driver, 0.5, 0.62), kind)
        text, prob = answer_of(driver)
        bars = len(driver.find_elements(By.CSS_SELECTOR, "#bars .bar"))
        seen = len(driver.find_elements(By.CSS_SELECTOR, "#seen canvas"))
        if bars != 10 or seen != 1:
            fail("digit %d: %d probability bars and %d network views on the page, expected 10 and 1" % (digit, bars, seen))
        right += text == str(digit)
        print("drew %d with a %s: the page says %s (%s)%s" % (digit, kind, text, prob, "" if text == str(digit) else "  <- wrong"))
    return right


def draw_number(driver):
    """Three digits side by side: wider than tall, so the page asks for a number."""
    driver.find_element(By.ID, "clear").click()
    left, top, width, height = canvas_box(driver, 0.9, 3 * 0.62 + 0.6)
    cell = width / 3
    for i, digit in enumerate((3, 1, 7)):
        draw(driver, DIGITS[digit], (left + i * cell + 0.12 * cell, top, 0.76 * cell, height), interaction.POINTER_MOUSE)
    text, prob = answer_of(driver)
    seen = len(driver.find_elements(By.CSS_SELECTOR, "#seen canvas"))
    print("drew 317 on one line: the page reads %s (%s), %d network views" % (text, prob, seen))
    if len(text) != 3 or seen != 3:
        fail("a drawing wider than tall was not read as a number of 3 digits: %r, %d views" % (text, seen))
    return text


def upload_photo(driver, path):
    """The file picker, then the same file dropped on the page (a DataTransfer built in the page)."""
    driver.find_element(By.ID, "clear").click()
    driver.find_element(By.ID, "file").send_keys(path)
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "digit").text != "?")
    picked = driver.find_element(By.ID, "digit").text
    driver.find_element(By.ID, "clear").click()
    driver.execute_script("""
        const [b64, name] = arguments;
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: 'image/jpeg'}));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    """, __import__("base64").b64encode(open(path, "rb").read()).decode(), os.path.basename(path))
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "digit").text != "?")
    dropped = driver.find_element(By.ID, "digit").text
    print("photo %s: file picker -> %s, drag-and-drop -> %s" % (os.path.basename(path), picked, dropped))
    return picked, dropped


def main():
    bin_dir, _, model_dir = sys.argv[1:4]
    with tempfile.TemporaryDirectory(prefix="digitnet-browser.") as tmp:
        shot = sys.argv[4] if len(sys.argv) > 4 else os.path.join(tmp, "page.png")
        server = Server(bin_dir, newest_checkpoint(model_dir))
        driver = start_browser(os.path.join(tmp, "profile"))
        try:
            started = time.time()
            driver.get(server.url + "/")
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "model").text.startswith("Model "))
            print("page: " + driver.find_element(By.ID, "model").text)
            right = draw_digits(driver)
            draw_number(driver)
            picked, dropped = upload_photo(driver, os.path.join(ROOT, "tests/fuzz/regressions/image/paper-7.jpg"))
            driver.find_element(By.ID, "clear").click()
            draw(driver, DIGITS[2], canvas_box(driver, 0.5, 0.62), interaction.POINTER_PEN)
            answer_of(driver)
            driver.save_screenshot(shot)
            print("screenshot: %s; browser part took %.1f s" % (shot, time.time() - started))
        finally:
            driver.quit()
            status = server.stop()
        if status != 0:
            fail("digitnet-serve exited %s on SIGTERM" % status)
        if right < 9:
            fail("only %d of 10 drawn digits read right" % right)
        if picked != "7" or dropped != "7":
            fail("the photo of a 7 was read as %s (file picker) and %s (drop)" % (picked, dropped))
        print("ok: %d of 10 drawn digits read right; a number read digit by digit; a photo read through the picker and a drop" % right)


main()
