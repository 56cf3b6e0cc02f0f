import base64
import contextlib
import io
import json
import re

import ipywidgets
import ipywidgets.embed
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from ipywidgets.widgets.widget_link import Link  # noqa: E402
from PIL import Image  # noqa: E402

from bpbook import widgets  # noqa: E402
from bpbook.widgets import MAX_STATE_BYTES, explorer, state_size  # noqa: E402


def render(eta):
    """A learning-rate frame of the size the chapters use."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = np.arange(40)
    ax.plot(steps, np.abs(1.0 - eta) ** steps)
    ax.set_yscale("log")
    ax.set_title(f"η = {eta:.3g}")
    return fig


ETAS = list(np.linspace(0.1, 2.1, 21))


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "explorer left figures open"


def frame_images(stack):
    return [child.value for child in stack.children]


def test_static_mode_links_a_stack_to_the_slider_with_one_frame_per_value():
    w = explorer(render, ETAS, description="η", initial=ETAS[3], mode="static")
    assert w.mode == "static"
    assert isinstance(w.frames, ipywidgets.Stack)
    assert len(w.frames.children) == len(ETAS)
    assert all(isinstance(c, ipywidgets.HTML) for c in w.frames.children)
    assert all(c.value.startswith('<img src="data:image/png;base64,') for c in w.frames.children)
    # Different values give different pictures.
    assert len(set(frame_images(w.frames))) == len(ETAS)
    # The browser-side link: slider.index drives stack.selected_index.
    assert isinstance(w.link, Link)
    assert w.link.source == (w.slider, "index")
    assert w.link.target == (w.frames, "selected_index")
    assert w.slider.index == w.frames.selected_index == 3
    assert list(w.slider._options_values) == ETAS
    assert w.children == (w.slider, w.frames)


def test_static_mode_is_silent_and_deterministic():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        first = explorer(render, ETAS[:5], mode="static")
    assert out.getvalue() == "" and err.getvalue() == ""
    second = explorer(render, ETAS[:5], mode="static")
    assert frame_images(first.frames) == frame_images(second.frames)


def test_live_mode_redraws_when_the_slider_moves():
    calls = []

    def counting_render(eta):
        calls.append(eta)
        return render(eta)

    w = explorer(counting_render, ETAS, mode="live")
    assert w.mode == "live" and w.link is None
    assert isinstance(w.frames, ipywidgets.HTML)
    assert calls == [ETAS[0]]  # only the visible frame is drawn up front
    before = w.frames.value
    w.slider.value = ETAS[10]
    assert calls == [ETAS[0], ETAS[10]]
    assert w.frames.value != before
    assert w.frames.value == explorer(render, [ETAS[10]], mode="static").frames.children[0].value


@pytest.mark.parametrize(("env", "expected"), [("1", "static"), ("0", "live"), (None, "live")])
def test_auto_mode_follows_the_environment(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv(widgets.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(widgets.ENV_VAR, env)
    assert explorer(render, ETAS[:3]).mode == expected


def test_state_size_counts_frames_and_stays_within_budget():
    small = explorer(render, ETAS[:2], mode="static")
    large = explorer(render, ETAS, mode="static")
    per_frame = (state_size(large) - state_size(small)) / (len(ETAS) - 2)
    # The frames dominate the state, and a typical 21-frame widget fits the budget.
    assert per_frame > 5_000
    assert state_size(large) > sum(len(v) for v in frame_images(large.frames))
    assert state_size(large) <= MAX_STATE_BYTES
    assert state_size(ipywidgets.HTML("x")) < 2_000


def test_state_size_includes_the_link():
    w = explorer(render, ETAS[:2], mode="static")
    state = ipywidgets.embed.dependency_state(w, drop_defaults=True)
    links = [s["state"] for s in state.values() if s["model_name"] == "LinkModel"]
    assert links == [
        {
            "source": [f"IPY_MODEL_{w.slider.model_id}", "index"],
            "target": [f"IPY_MODEL_{w.frames.model_id}", "selected_index"],
        }
    ]
    assert state_size(w) == len(
        json.dumps(ipywidgets.embed.embed_data([w], state=state)["manager_state"]).encode()
    )


def test_a_widget_over_budget_is_refused():
    def big(eta):
        fig, ax = plt.subplots(figsize=(12, 8))
        ax.imshow(np.random.default_rng(int(eta * 100)).random((200, 200)))
        return fig

    with pytest.raises(ValueError, match="MB of widget state"):
        explorer(big, ETAS, mode="static", dpi=100)


def test_labels_default_to_compact_numbers_and_can_be_given():
    w = explorer(render, [0.1, 1 / 3, 2], mode="live")
    assert w.slider._options_values == (0.1, 1 / 3, 2)
    assert w.slider._options_labels == ("0.1", "0.3333", "2")
    w = explorer(render, [0.1, 0.2], labels=["slow", "fast"], mode="live")
    assert w.slider.label == "slow"


def test_values_can_be_any_objects():
    def render_named(pair):
        name, eta = pair
        return render(eta)

    w = explorer(render_named, [("a", 0.1), ("b", 0.5)], labels=["a", "b"], mode="static")
    assert len(w.frames.children) == 2


def frame_alts(html_values):
    return [re.search(r'alt="([^"]*)"', value).group(1) for value in html_values]


def test_alt_text_describes_every_static_frame_and_names_its_setting():
    w = explorer(render, ETAS[:3], description="η", labels=["slow", "fast", "diverging"],
                 mode="static", alt='Loss against step for gradient descent ("GD") & <friends>')
    alts = frame_alts(frame_images(w.frames))
    described = "Loss against step for gradient descent (&quot;GD&quot;) &amp; &lt;friends&gt;"
    assert alts == [f"{described} (η = slow)", f"{described} (η = fast)",
                    f"{described} (η = diverging)"]


def test_alt_text_follows_the_live_frame():
    w = explorer(render, ETAS[:3], mode="live", alt="Loss against step.")
    assert frame_alts([w.frames.value]) == [f"Loss against step. (η = {ETAS[0]:.4g})"]
    w.slider.value = ETAS[2]
    assert frame_alts([w.frames.value]) == [f"Loss against step. (η = {ETAS[2]:.4g})"]


def test_frames_are_opaque_white_even_from_a_transparent_figure():
    def transparent(eta):
        fig = render(eta)
        fig.patch.set_alpha(0.0)
        return fig

    w = explorer(transparent, ETAS[:1], mode="static")
    encoded = re.search(r"base64,([^\"]+)", frame_images(w.frames)[0]).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGBA")
    assert image.getpixel((0, 0)) == (255, 255, 255, 255)


def test_without_alt_the_frames_still_name_their_setting():
    w = explorer(render, ETAS[:2], description="η", mode="static")
    assert frame_alts(frame_images(w.frames)) == [f"η = {e:.4g}" for e in ETAS[:2]]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"values": []}, ValueError, "values is empty"),
        ({"values": 0.5}, TypeError, "values must be a sequence"),
        ({"mode": "browser"}, ValueError, "unknown mode 'browser'"),
        ({"labels": ["a"]}, ValueError, "labels has 1 entries but values has 2"),
        ({"labels": ["a", 1]}, TypeError, r"labels\[1\] must be a string"),
        ({"labels": ["a", "a"]}, ValueError, "'a' appears more than once"),
        ({"values": [0.10001, 0.1]}, ValueError, "pass labels="),
        ({"initial": 7.0}, ValueError, "initial=7.0 is not one of the values"),
        ({"description": 3}, TypeError, "description must be a string"),
        ({"dpi": 0}, ValueError, "dpi must be a number"),
        ({"alt": 3}, TypeError, "alt must be a string or None"),
        ({"alt": "  "}, ValueError, "alt must describe the frames"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    arguments = {"render": render, "values": [0.1, 0.5], "mode": "static", **kwargs}
    with pytest.raises(error, match=match):
        explorer(**arguments)


@pytest.mark.parametrize("mode", ["static", "live"])
def test_render_must_return_a_figure(mode):
    def no_figure(eta):
        plt.plot([0, eta])
        plt.close("all")
        return None

    with pytest.raises(TypeError, match=r"render\(0.1\) returned NoneType"):
        explorer(no_figure, [0.1, 0.5], mode=mode)


def test_render_must_be_callable():
    with pytest.raises(TypeError, match="render must be a callable"):
        explorer("plot", [0.1])


def test_state_size_rejects_non_widgets():
    with pytest.raises(TypeError, match="widget must be an ipywidgets.Widget"):
        state_size("<div>")
