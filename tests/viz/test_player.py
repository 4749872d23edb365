"""The backprop player: one self-contained page, the step texts of backward_steps, the right
node at each step -- checked in a real browser (headless Chromium driven by selenium) by
pressing "next" through every step, and by the arrow keys and the slider."""
import html
import json
import re
import shutil
import tempfile

import numpy as np
import pytest

import engine
import nn
import viz
from engine import backward_steps
from viz.model import GraphModel

from . import helpers
from .helpers import needs_dot

pytestmark = needs_dot


def neuron():
    """The neuron with its parameters (w1, w2, b; x1 and x2 are inputs)."""
    o, leaves = helpers.neuron()
    return o, {k: leaves[k] for k in ("w1", "w2", "b")}


def course_mlp():
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Sigmoid(),
                          nn.Linear(3, 1), nn.Sigmoid())
    X = engine.tensor([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]], name="X")
    y = engine.tensor([[0.0], [1.0], [1.0]], name="y")
    return nn.F.binary_cross_entropy(model(X), y)


def page_data(page):
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>',
                                page, re.S).group(1).replace("<\\/", "</"))


# ------------------------------------------------------------------------------ the page
def test_the_page_holds_every_step_and_the_final_gradients():
    o, params = neuron()
    reference = [str(s) for s in backward_steps(neuron()[0])]  # the same graph, again
    p = viz.player(o, params=params)
    assert [str(s) for s in p.steps] == reference
    # Each text is backward_steps' text with the rule in the operands' names.
    for s, shown in zip(p.steps, p.texts, strict=True):
        assert shown == viz.step_text(s)
        plain, named = str(s).splitlines(), shown.splitlines()
        assert len(plain) == len(named) and plain[0] == named[0]
    assert "rule: d(tanh n)/dn = 1 − tanh²n" in p.texts[0]
    data = page_data(p.html())
    assert [s["text"] for s in data["steps"]] == p.texts
    ids = GraphModel(o, params=params).ids
    assert [s["node"] for s in data["steps"]] == [ids[s.node] for s in p.steps]
    # The final gradients, by hand: do/dn = 1 − tanh²(0.8814) = 0.5, do/dw1 = x1·0.5 = 1.
    grads = {k: v["grad"] for k, v in data["items"].items()}
    assert grads[ids[params["w1"]]] == "grad 1" and grads[ids[params["b"]]] == "grad 0.5"
    # Running the player is running backprop: the leaves have their gradients.
    assert params["w1"].grad == pytest.approx(1.0)


def test_the_page_is_self_contained(tmp_path):
    o, params = neuron()
    path = viz.player(o, params=params).save(tmp_path / "backprop.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert not re.search(r'(src|href)="(?!#)', page)  # nothing loaded from anywhere
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page
    assert [p.name for p in tmp_path.iterdir()] == ["backprop.html"]  # written atomically


def test_jupyter_shows_the_page_in_an_iframe():
    p = viz.player(neuron()[0])
    frame = p._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in frame
    page = html.unescape(re.search(r'srcdoc="(.*?)"', frame, re.S).group(1))
    assert page == p.html()
    assert "12 steps" in repr(viz.player(neuron()[0])) or "steps of backprop" in repr(p)


def test_the_gif_has_one_frame_per_step(tmp_path):
    from PIL import Image
    o, params = neuron()
    p = viz.player(o, params=params)
    path = p.gif(tmp_path / "steps.gif", seconds_per_step=0.5)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == len(p.steps)
        assert im.info["duration"] == 500
        assert im.size[0] <= 1600 and im.size[1] <= 1000
    assert [q.name for q in tmp_path.iterdir()] == ["steps.gif"]


def test_a_transposed_weight_step_highlights_its_edge():
    # An MLP written by hand, x @ W.T + b per layer (nn.Linear is one linear op).
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Sigmoid(),
                          nn.Linear(3, 1))
    h = engine.tensor([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]], name="X")
    for lin in model[::2]:
        h = (h @ lin.weight.T + lin.bias).sigmoid()
    p = viz.player(h.sum())
    data = page_data(p.html())
    perm = [k for k, s in enumerate(p.steps) if s.node.op == "permute"]
    assert len(perm) == 3
    for k in perm:
        assert data["steps"][k]["node"].endswith("_T")  # the .T edge, not a node


# ------------------------------------------------------------------------------ browser
@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through selenium and Debian's chromedriver."""
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or \
        shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("Chromium and chromedriver are needed for the browser test "
                    "(Debian: apt-get install chromium chromium-driver; `make setup` does it)")
    profile = tempfile.mkdtemp(prefix="stepgrad-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--window-size=1600,1000"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(driver), options=opts)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shown(d):
    from selenium.webdriver.common.by import By
    text = d.execute_script("return document.getElementById('text').textContent")
    current = [e.get_attribute("id") for e in d.find_elements(By.CSS_SELECTOR, "#graph .current")]
    return text, current


def grad_texts(d):
    """SVG id → the grad text each box shows now."""
    return d.execute_script("""
        var out = {};
        document.querySelectorAll('#graph g.node').forEach(function (g) {
          g.querySelectorAll('text').forEach(function (t) {
            if (t.textContent.indexOf('grad') === 0) out[g.id] = t.textContent; });
        });
        return out;""")


@pytest.mark.parametrize("which", ["neuron", "mlp"])
def test_pressing_next_through_every_step_in_chromium(browser, tmp_path, which):
    from selenium.webdriver.common.by import By
    if which == "neuron":
        o, params = neuron()
        p, ids = viz.player(o, params=params), GraphModel(o, params=params).ids
    else:
        loss = course_mlp()
        p, ids = viz.player(loss), GraphModel(loss).ids
    path = p.save(tmp_path / f"{which}.html")
    browser.get(path.as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    nxt = browser.find_element(By.ID, "next")
    n = len(p.steps)
    for k, step in enumerate(p.steps):
        text, current = shown(browser)
        assert text == p.texts[k], f"step {k}"
        assert text.splitlines()[0] == str(step).splitlines()[0]
        expected = p.dot_id(step.node)
        assert expected in current, (k, expected, current)
        if which == "neuron":  # nothing is folded: the step's own node, by position
            assert expected == ids[step.node]
        assert browser.find_element(By.ID, "counter").text == f"step {k} of {n}"
        grads = grad_texts(browser)
        for s in p.steps[:k + 1]:  # known gradients are shown ...
            box = p.dot_id(s.node)
            if box in grads and box != expected and not box.endswith("_T") and \
                    p.picture.red.items.get(box) is not None and \
                    p.picture.red.items[box].out is s.node:
                assert grads[box] == page_data(path.read_text())["items"][box]["grad"], \
                    (k, box)
        for s in p.steps[k + 1:]:  # ... the others are not
            box = p.dot_id(s.node)
            if box in grads and p.picture.red.items.get(box) is not None and \
                    p.picture.red.items[box].out is s.node:
                assert grads[box] in ("grad ?",) or grads[box].startswith("grad ←"), (k, box)
        if k < n - 1:
            nxt.click()
    assert nxt.get_property("disabled")  # the last step: "next" is off
    if which == "neuron":
        browser.save_screenshot(str(tmp_path / "last.png"))


def test_keys_and_slider_move_between_steps(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    o, params = neuron()
    p = viz.player(o, params=params)
    browser.get(p.save(tmp_path / "keys.html").as_uri())
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT)
    body.send_keys(Keys.ARROW_RIGHT)
    assert shown(browser)[0] == p.texts[2]
    body.send_keys(Keys.ARROW_LEFT)
    assert shown(browser)[0] == p.texts[1]
    body.send_keys(Keys.END)
    assert shown(browser)[0] == p.texts[-1]
    body.send_keys(Keys.HOME)
    assert shown(browser)[0] == p.texts[0]
    browser.execute_script("var s = document.getElementById('slider'); s.value = 5;"
                           "s.dispatchEvent(new Event('input'));")
    assert shown(browser)[0] == p.texts[5]
    # What step 5 sends to its parents appears on them in red.
    step = p.steps[5]
    if step.node.parents:
        grads = grad_texts(browser)
        for parent in step.node.parents:
            box = p.dot_id(parent)
            if box in grads:
                assert grads[box].startswith("grad ← ")


def test_the_step_command_writes_a_player(tmp_path):
    import subprocess
    import sys
    out = tmp_path / "steps.html"
    r = subprocess.run([sys.executable, "-m", "viz.cli", "step", "(a*b + b).tanh()", "a=2",
                        "b=-3", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    t = np.tanh(-9.0)  # d/da tanh(ab + b) = b(1 − t²), d/db = (a + 1)(1 − t²)
    assert f"d/da = {-3 * (1 - t * t):.6g}" in r.stdout and "steps" in r.stdout
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["steps"][0]["text"].startswith("step 0: out = tanh(")
    assert len(data["steps"]) == 5  # out, ab + b, ab, then the leaves b and a
    bad = subprocess.run([sys.executable, "-m", "viz.cli", "step", "a + c", "a=1"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "stepgrad step: unknown name 'c'" in bad.stderr
