const DATE_TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

export function dateTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined) {
    return "—";
  }
  const ms = typeof value === "number" ? value : Date.parse(value);
  return Number.isNaN(ms) ? "—" : DATE_TIME.format(ms);
}

export function timeLeft(seconds: number | null): string {
  if (seconds === null) {
    return "";
  }
  const abs = Math.abs(seconds);
  const days = Math.floor(abs / 86400);
  const hours = Math.floor((abs % 86400) / 3600);
  const text =
    days > 0 ? `${days}天${hours}小时` : `${hours}小时${Math.floor((abs % 3600) / 60)}分`;
  return seconds < 0 ? `已超 ${text}` : `剩 ${text}`;
}

export const STATUS_TEXT: Record<string, string> = {
  held: "待组长处理",
  assigned: "待检查",
  in_progress: "检查中",
  submitted: "已提交",
  returned: "已退回",
  approved: "已审核",
  forwarded: "已报送",
  published: "已公示",
  withdrawn: "已撤回",
  reopened: "更正中",
};
