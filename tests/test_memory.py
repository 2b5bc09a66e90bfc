"""The explicit memory (model/memory.py): a bounded store written after each call, read by
attention each tick, carried with the state, private or shared by a team of rows."""

import pytest
import torch

from ctm.model import CTMConfig, build_model
from ctm.model.memory import Recall

FEATURES = 6


def config(**changes):
    fields = dict(d_model=16, d_input=8, heads=2, ticks=2, memory_length=3, n_sync_out=8,
                  n_sync_action=8, out_dims=4, backbone="none", input_mode="direct",
                  input_size=FEATURES, memory_slots=3, value_head=True)
    fields.update(changes)
    return CTMConfig(**fields)


def test_a_full_store_overwrites_its_oldest_entry():
    recall = Recall(config(memory_slots=2), query_size=5, write_size=4)
    entries, present, written = recall.empty(1, torch.zeros(1))
    assert not present.any() and written.item() == 0
    sources = [torch.randn(1, 4) for _ in range(3)]
    for k, source in enumerate(sources):
        entries, present, written = recall.store(entries, present, written, source)
        if k == 0:
            assert present.tolist() == [[True, False]]
            assert torch.equal(entries[0, 1], torch.zeros(8))
    expected = [recall.write(sources[2])[0], recall.write(sources[1])[0]]  # slot 0 overwritten
    torch.testing.assert_close(entries[0], torch.stack(expected))
    assert present.all() and written.item() == 3


def test_a_team_writes_into_one_store_that_every_member_holds():
    team = Recall(config(memory_team=2), query_size=5, write_size=4)
    assert team.slots == 6
    entries, present, written = team.empty(4, torch.zeros(1))
    source = torch.randn(4, 4)
    entries, present, written = team.store(entries, present, written, source)
    written_now = team.write(source)
    for row in range(4):
        first = row - row % 2  # the team's first row
        torch.testing.assert_close(entries[row, :2], written_now[first:first + 2])
        assert present[row].tolist() == [True, True, False, False, False, False]
    assert written.tolist() == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="whole number of teams, got 3 rows"):
        team.empty(3, torch.zeros(1))


@pytest.mark.parametrize("architecture", ["ctm", "lstm"])
def test_each_call_reads_only_what_earlier_calls_wrote(architecture):
    torch.manual_seed(0)
    model = build_model(config(architecture=architecture))
    state = model.initial_state(2)
    x = torch.randn(2, FEATURES)
    for call in range(4):
        out = model(x, state=state, trace=True)
        reads = out.memory_attention  # (B, T, heads, K)
        assert reads.shape == (2, 2, 2, 3)
        filled = min(call, 3)
        assert torch.all(reads[..., filled:] == 0)
        if filled:  # each head's weights over the written slots sum to one
            torch.testing.assert_close(reads.sum(-1), torch.ones(2, 2, 2))
        state = out.state
    assert state.written.tolist() == [4, 4]
    # a restarted row begins with an empty memory again
    restarted = state.where(torch.tensor([True, False]), model.initial_state(2))
    assert restarted.present.tolist() == [[False] * 3, [True] * 3]


@pytest.mark.parametrize("architecture", ["ctm", "lstm"])
def test_a_later_call_learns_through_what_an_earlier_one_wrote(architecture):
    torch.manual_seed(1)
    model = build_model(config(architecture=architecture))
    first = model(torch.randn(3, FEATURES), state=model.initial_state(3))
    second = model(torch.randn(3, FEATURES), state=first.state)
    second.logits[:, -1].sum().backward()
    assert model.recall.write[0].weight.grad.abs().sum() > 0
    # and the memory is part of what the second call answers from
    with torch.no_grad():
        forgetful = dict(vars(first.state))
        forgetful["present"] = torch.zeros_like(first.state.present)
        again = model(second_input := torch.randn(3, FEATURES), state=first.state)
        blank = model(second_input, state=type(first.state)(**forgetful))
    assert not torch.allclose(again.logits, blank.logits)


def test_states_with_memory_select_and_join_per_row():
    model = build_model(config())
    out = model(torch.randn(4, FEATURES), state=model.initial_state(4))
    picked = out.state.select(torch.tensor([2, 0]))
    assert torch.equal(picked.entries, out.state.entries[[2, 0]])
    joined = type(picked).cat([picked, picked])
    assert joined.entries.shape == (4, 3, 8) and joined.history.shape[2] == 4


def test_a_model_without_memory_is_unchanged():
    model = build_model(config(memory_slots=0))
    assert model.recall is None and model.sync_action is None  # direct input reads no query
    out = model(torch.randn(2, FEATURES), state=model.initial_state(2), trace=True)
    assert out.memory_attention is None and not hasattr(out.state, "entries")


@pytest.mark.parametrize(("changes", "message"), [
    ({"memory_slots": -1}, "memory_slots must be >= 0, got -1"),
    ({"memory_team": 0}, "memory_team must be >= 1, got 0"),
    ({"architecture": "feedforward", "value_head": False},
     "the feedforward architecture has no explicit memory: memory_slots must be 0"),
])
def test_memory_settings_that_cannot_work_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        config(**changes)
