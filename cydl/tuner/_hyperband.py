"""keras_tuner's Hyperband formulas (Li et al., 2018), which give cydl's Hyperband its
number of trials: keras_tuner's number of new configurations. The pruning itself is
Optuna's HyperbandPruner (see tuners.HyperbandOracle)."""
import math


class HyperbandSchedule:
    """keras_tuner's HyperbandOracle formulas (same names). Needs `max_epochs`, `min_epochs`, `factor` and `hyperband_iterations`."""

    def _get_num_brackets(self):
        epochs, brackets = self.max_epochs, 0
        while epochs >= self.min_epochs:
            epochs, brackets = epochs / self.factor, brackets + 1
        return brackets

    def _get_num_rounds(self, bracket_num):
        return bracket_num + 1

    def _get_size(self, bracket_num, round_num):
        """How many configurations run round `round_num` of bracket `bracket_num`."""
        bracket0_end_size = math.ceil(1 + math.log(self.max_epochs, self.factor))
        bracket_end_size = bracket0_end_size / (bracket_num + 1)
        return math.ceil(bracket_end_size * self.factor ** (bracket_num - round_num))

    def _get_epochs(self, bracket_num, round_num):
        """The epochs a configuration has trained at the end of that round."""
        return math.ceil(self.max_epochs / self.factor ** (bracket_num - round_num))

    def _brackets(self):
        """(bracket, first trial number, size) of each bracket, in keras_tuner's order:
        the most aggressive bracket first, all the brackets in each iteration."""
        brackets, first = [], 0
        for _ in range(self.hyperband_iterations):
            for b in reversed(range(self._get_num_brackets())):
                brackets.append((b, first, self._get_size(b, 0)))
                first += self._get_size(b, 0)
        return brackets

    def _n_configurations(self):
        return sum(size for _, _, size in self._brackets())
