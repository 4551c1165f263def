"""Writes the two example datasets beside their configs, from rlvr's own arithmetic word
problems (seeded, so the files are the same every time):

- examples/verl_gsm8k/{train,test}.parquet: verl's format, the columns its
  examples/data_preprocess/gsm8k.py writes: data_source, prompt (chat messages), ability,
  reward_model {style: rule, ground_truth}, extra_info {split, index, answer, question};
- examples/trl_prompt_solution/dataset/: a `datasets.save_to_disk` DatasetDict (train, test)
  with TRL's `prompt` (chat messages) and `solution` columns.

    python examples/make_data.py          # from the repository root
"""
from __future__ import annotations

from pathlib import Path

from rlvr.data.arithmetic import ArithmeticTask

HERE = Path(__file__).resolve().parent
ROWS = {"train": 64, "test": 32}
ASK = " Reason briefly, then give the final number as \\boxed{N}."


def problems(split: str):
    task = ArithmeticTask(seed=11, split="train" if split == "train" else "eval", word_problems=True,
                          min_operand=2, max_operand=40, eval_fraction=0.3)
    return task.take(ROWS[split])


def verl_rows(split: str) -> list[dict]:
    rows = []
    for i, s in enumerate(problems(split)):
        a, op, b = s.meta["a"], s.meta["op"], s.meta["b"]
        worked = f"{a} {op} {b} = {s.answer}\n#### {s.answer}"  # GSM8K's answer style
        rows.append({"data_source": "rlvr/arithmetic_words", "prompt": [{"role": "user", "content": s.prompt + ASK}],
                     "ability": "math", "reward_model": {"style": "rule", "ground_truth": s.answer},
                     "extra_info": {"split": split, "index": i, "answer": worked, "question": s.prompt}})
    return rows


def trl_rows(split: str) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": s.prompt + ASK}], "solution": s.answer} for s in problems(split)]


def main() -> None:
    import datasets

    datasets.disable_progress_bars()
    for split in ROWS:
        datasets.Dataset.from_list(verl_rows(split)).to_parquet(str(HERE / "verl_gsm8k" / f"{split}.parquet"))
    trl = datasets.DatasetDict({split: datasets.Dataset.from_list(trl_rows(split)) for split in ROWS})
    trl.save_to_disk(str(HERE / "trl_prompt_solution" / "dataset"))
    print(f"wrote {HERE / 'verl_gsm8k'} and {HERE / 'trl_prompt_solution' / 'dataset'}")


if __name__ == "__main__":
    main()
