"""The renamed-labels eval set: pages whose target labels say other words (a fixed table), and
a replay on them that must hand over to the planner and heal; and descriptions through
iframes, kept and read back as they were."""

from __future__ import annotations

from evals.cache_eval import renamed_task, run_cache_suite
from evals.perturb import RENAMES, rename_html
from evals.tasks import load_tasks
from tools.find import Description, FrameStep, Landmark


def test_renamed_page_says_the_labels_the_other_way_and_keeps_the_rest() -> None:
    page = (
        "<html><body><label for='u'>Username</label><input id='u'>"
        "<button id='go'> Sign in </button><input type='submit' value=\"Continue\">"
        "<button aria-label='Apply'>A</button><button>Continue to payment</button>"
        "<script>const label = 'Sign in';</script></body></html>"
    )
    renamed = rename_html(page)
    assert "<button id='go'> Log in </button>" in renamed
    assert 'value="Next step"' in renamed and "aria-label='Use this volume'" in renamed
    assert ">Continue to payment<" in renamed  # a longer label is another label
    assert ">Username</label>" in renamed  # fields keep their labels
    assert "const label = 'Sign in';" in renamed  # scripts are left alone


def test_the_healing_policy_reads_names_through_the_same_table() -> None:
    [task] = load_tasks(pattern="login-basic")
    targets = [call.target for turn in renamed_task(task).solution for call in turn if call.target]
    assert [t.name for t in targets] == ["Username", "Password", RENAMES["Sign in"]]


async def test_replay_on_renamed_pages_hands_over_and_heals() -> None:
    [(fill, again)] = await run_cache_suite(load_tasks(pattern="login-basic"), pages="renamed")
    assert fill.success and fill.status == "miss"
    # The fields were filled by the replay; the renamed button stopped it and the model
    # clicked "Log in": one call for that, one for done.
    assert again.success and again.status == "healed"
    assert 0 < again.model_calls < fill.model_calls + 1
    assert again.reason is not None and 'button "Sign in"' in again.reason


def test_a_description_through_iframes_is_kept_as_it_was() -> None:
    described = Description(
        "role",
        "button",
        "Send",
        within=Landmark("form", "Feedback"),
        frames=(FrameStep('Say "hi"', 1, 2), FrameStep("")),
    )
    assert Description.from_dict(described.to_dict()) == described
    assert described.label() == (
        'button "Send" in form "Feedback" in an untitled frame in frame "Say "hi"" (number 2 of 2)'
    )
    assert FrameStep('Say "hi"').selector() == 'iframe[title="Say \\"hi\\""]'
    assert "frames" not in Description("label", "Email").to_dict()  # old recipes read the same
