AddCSLuaFile("shared.lua")
AddCSLuaFile("cl_init.lua")
include("shared.lua")

ENT.DefaultModel = "models/Humans/Group01/male_07.mdl"
ENT.WalkSpeed = 200
ENT.MoveTimeout = 30        -- seconds a move_to may take
ENT.UnitsPerMeter = 52.5    -- follow distances come in metres (blocks)

function ENT:Initialize()
  self:SetModel(self.CompanionModel or self.DefaultModel)
  self:SetHealth(100)
  self.loco:SetDesiredSpeed(self.WalkSpeed)   -- a nextbot does not move without it
  self.loco:SetAcceleration(400)
  self.loco:SetStepHeight(18)
  self.Task = nil
end

--- Give the companion a task (move_to / follow); the one running ends as "interrupted".
--- task: {kind, goal (Vector) | target (player), tolerance, on_done(detail), on_failed(reason)}
function ENT:SetTask(task)
  local old = self.Task
  self.Task = task
  if old and not old.finished then
    old.finished = true
    if old.on_failed then old.on_failed("interrupted") end
  end
end

function ENT:FinishTask(task, ok, why)
  if task.finished then return end
  task.finished = true
  if self.Task == task then self.Task = nil end
  if ok then
    if task.on_done then task.on_done(why) end
  elseif task.on_failed then
    task.on_failed(why)
  end
end

-- one leg towards goal: MoveToPos on a navmesh, loco:Approach without one.
-- Returns "ok", "interrupted", "timeout", "stuck" or "failed".
function ENT:Walk(task, goal, tolerance, maxage)
  if navmesh.IsLoaded() then
    local result = self:MoveToPos(goal, { tolerance = tolerance, maxage = maxage, lookahead = 300 })
    if self.Task ~= task then return "interrupted" end
    return result
  end
  local started = CurTime()
  while true do
    if self.Task ~= task then return "interrupted" end
    local here = self:GetPos()
    local flat = Vector(goal.x - here.x, goal.y - here.y, 0)
    if flat:Length() <= tolerance then return "ok" end
    if maxage and CurTime() - started > maxage then return "timeout" end
    self.loco:FaceTowards(goal)
    self.loco:Approach(goal, 1)
    coroutine.yield()
  end
end

--- Start an activity only when it changes: StartActivity restarts the animation, and
--- RunBehaviour runs every tick. ACT_IDLE and ACT_RUN are activities NPC models have.
function ENT:PlayActivity(act)
  if self.CurrentActivity == act then return end
  self.CurrentActivity = act
  self:StartActivity(act)
end

function ENT:RunBehaviour()
  while true do
    local task = self.Task
    if task and not task.finished then
      self:PlayActivity(ACT_RUN)
      if task.kind == "move_to" then
        local result = self:Walk(task, task.goal, task.tolerance or 20, self.MoveTimeout)
        if result == "ok" then self:FinishTask(task, true)
        elseif result ~= "interrupted" then self:FinishTask(task, false, result == "failed" and "no_path" or result) end
      elseif task.kind == "follow" then
        local target = task.target
        if not IsValid(target) then
          self:FinishTask(task, false, "target_gone")
        else
          local here = target:GetPos()
          local d = Vector(here.x - self:GetPos().x, here.y - self:GetPos().y, 0)
          if d:Length() <= task.tolerance then
            if not task.reached then
              task.reached = true
              if task.on_reached then task.on_reached() end
            end
            self:PlayActivity(ACT_IDLE)
            coroutine.yield()
          else
            -- short legs, so a moving player is tracked
            self:Walk(task, here, task.tolerance, 1)
          end
        end
      else
        self:FinishTask(task, false, "unknown_task")
      end
    else
      self:PlayActivity(ACT_IDLE)
      coroutine.yield()
    end
  end
end

--- MoveToPos as base_nextbot has it, but a new task (or stop) ends it early.
function ENT:MoveToPos(pos, options)
  options = options or {}
  local task = self.Task
  local path = Path("Follow")
  path:SetMinLookAheadDistance(options.lookahead or 300)
  path:SetGoalTolerance(options.tolerance or 20)
  path:Compute(self, pos)
  if not path:IsValid() then return "failed" end
  while path:IsValid() do
    if self.Task ~= task then return "interrupted" end
    path:Update(self)
    if self.loco:IsStuck() then
      self:HandleStuck()
      return "stuck"
    end
    if options.maxage and path:GetAge() > options.maxage then return "timeout" end
    coroutine.yield()
  end
  return "ok"
end

function ENT:OnInjured(dmginfo)
  if AICompanion and AICompanion.Events then AICompanion.Events.companion_damaged(self, dmginfo) end
end

function ENT:OnKilled(dmginfo)
  if AICompanion and AICompanion.Events then AICompanion.Events.companion_killed(self, dmginfo) end
  hook.Run("OnNPCKilled", self, dmginfo:GetAttacker(), dmginfo:GetInflictor())
  if self.BecomeRagdoll then self:BecomeRagdoll(dmginfo) end
end

function ENT:OnRemove()
  local task = self.Task
  if task and not task.finished then
    task.finished = true
    if task.on_failed then task.on_failed("despawned") end
  end
end
