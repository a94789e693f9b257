-- Shared by the bench/*.lua scripts: TOKEN and, where needed, IDS (a file of ids, one a line).
local M = {}
M.token = os.getenv("TOKEN") or "missive_pat-bench-data"
M.headers = { ["Authorization"] = "Bearer " .. M.token, ["Content-Type"] = "application/json" }
function M.load(path)
  local ids = {}
  for line in io.lines(path) do ids[#ids + 1] = line end
  return ids
end
function M.check(status)
  if status >= 300 then error("unexpected status " .. status) end
end
return M
