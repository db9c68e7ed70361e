// 红黄灯预警 on the phone, offline: the same pure rule as backend/domain/deadlines/lights.py,
// over the deadline instants the server sent. Both run backend/domain/deadlines/light_cases.json.

export type Color = "green" | "yellow" | "red" | "none";
export type Phase = "due" | "entry" | "publication";

export interface LightFacts {
  status: string;
  due_at: string;
  entry_deadline_at?: string | null;
  publication_deadline_at?: string | null;
  checked_in_at?: string | null;
  checked_at?: string | null;
  results_entered_at?: string | null;
  published_at?: string | null;
}

export interface DeadlineConfig {
  entry_window_hours: number;
  entry_yellow_hours: number;
  due_yellow_days: number;
  check_in_yellow_hours: number;
  publication_working_days: number;
  publication_yellow_days: number;
}

export const DEFAULT_CONFIG: DeadlineConfig = {
  entry_window_hours: 48,
  entry_yellow_hours: 24,
  due_yellow_days: 3,
  check_in_yellow_hours: 24,
  publication_working_days: 20,
  publication_yellow_days: 5,
};

export interface Light {
  color: Color;
  phase: Phase | null;
  deadlineAt: number | null;
  secondsLeft: number | null;
  reason: string;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const FINISHED = new Set(["published", "withdrawn"]);

function at(value: string | null | undefined): number | null {
  return value ? Date.parse(value) : null;
}

function light(color: Color, phase: Phase, deadline: number, now: number, reason: string): Light {
  return {
    color,
    phase,
    deadlineAt: deadline,
    secondsLeft: Math.trunc((deadline - now) / 1000),
    reason,
  };
}

export function lightOf(
  facts: LightFacts,
  now: number,
  config: DeadlineConfig = DEFAULT_CONFIG,
): Light {
  if (FINISHED.has(facts.status) || facts.published_at) {
    return {
      color: "none",
      phase: null,
      deadlineAt: null,
      secondsLeft: null,
      reason: "已公示或已撤回",
    };
  }
  const due = Date.parse(facts.due_at);
  const checkedIn = at(facts.checked_in_at);
  if (!facts.results_entered_at && !facts.checked_at) {
    if (now > due) {
      return light("red", "due", due, now, "已超过任务截止时间仍未完成检查");
    }
    if (due - now <= config.due_yellow_days * DAY) {
      return light("yellow", "due", due, now, `距截止不足${config.due_yellow_days}天`);
    }
    if (checkedIn !== null && now - checkedIn >= config.check_in_yellow_hours * HOUR) {
      return light(
        "yellow",
        "due",
        due,
        now,
        `签到已超过${config.check_in_yellow_hours}小时仍未完成检查`,
      );
    }
    return light("green", "due", due, now, "按期进行中");
  }
  if (!facts.results_entered_at) {
    const deadline = at(facts.entry_deadline_at) ?? due;
    if (now > deadline) {
      return light(
        "red",
        "entry",
        deadline,
        now,
        `检查后${config.entry_window_hours}小时内未录入结果`,
      );
    }
    if (deadline - now <= config.entry_yellow_hours * HOUR) {
      return light(
        "yellow",
        "entry",
        deadline,
        now,
        `录入结果剩余不足${config.entry_yellow_hours}小时`,
      );
    }
    return light("green", "entry", deadline, now, "结果录入时限内");
  }
  const deadline = at(facts.publication_deadline_at) ?? due;
  if (now > deadline) {
    return light(
      "red",
      "publication",
      deadline,
      now,
      `已超过${config.publication_working_days}个工作日公示时限`,
    );
  }
  if (deadline - now <= config.publication_yellow_days * DAY) {
    return light(
      "yellow",
      "publication",
      deadline,
      now,
      `距公示时限不足${config.publication_yellow_days}天`,
    );
  }
  return light("green", "publication", deadline, now, "公示时限内");
}
