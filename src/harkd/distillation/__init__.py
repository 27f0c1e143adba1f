"""Cross-modal distillation: frozen teachers from ``harkd train`` runs, a student, weighted loss terms,
all fed from the same paired batch (see :class:`~harkd.distillation.task.DistillTask`)."""

from harkd.distillation.config import DistillConfig, LossTermConfig, TeacherConfig, load_distill_config
from harkd.distillation.experiment import DISTILL, distill_experiment, resolve_config
from harkd.distillation.task import DistillTask, LossTerm, TeacherOutputCache
from harkd.distillation.teachers import Teacher, check_teacher_split, load_teacher, read_teacher_run

__all__ = ["DISTILL", "DistillConfig", "DistillTask", "LossTerm", "LossTermConfig", "Teacher", "TeacherConfig",
           "TeacherOutputCache", "check_teacher_split", "distill_experiment", "load_distill_config", "load_teacher",
           "read_teacher_run", "resolve_config"]
