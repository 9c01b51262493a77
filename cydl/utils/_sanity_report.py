"""What sanity_check returns."""


class SanityReport:
    """The findings of cydl.utils.sanity_check.

    Attributes:
        problems: what looks wrong, one plain sentence each (empty: nothing found).
        notes: what was measured, for the record.
        values: {name: number}: initial_loss, loss_with_regularization,
            loss_without_regularization, overfit_accuracy, overfit_steps,
            dead_fraction/<layer>, saturated_fraction/<layer>, ...
        ok: True when there is no problem.
    """

    def __init__(self):
        self.problems, self.notes, self.values = [], [], {}

    @property
    def ok(self):
        return not self.problems

    def summary(self):
        lines = ["Sanity check: " + ("no problem found." if self.ok else
                                     f"{len(self.problems)} problem(s) found.")]
        lines += [f"  PROBLEM: {p}" for p in self.problems]
        lines += [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    __str__ = summary

    def __repr__(self):
        return f"<SanityReport {len(self.problems)} problem(s)>"
