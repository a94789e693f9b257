-- Shared by the bench/*.lua scripts: TOKEN and, where needed, IDS (a file of ids, one a line).
-- PREFIX (default none) goes before the paths of the scripts that use it, e.g. /async for the
-- async-driver twins of bench/async_driver.py.
local M = {}
M.prefix = os.getenv("PREFIX") or ""
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
