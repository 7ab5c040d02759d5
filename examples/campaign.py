"""A campaign: two encounters chained, with state carried from the first to the
second. campaign.json names the encounters by id; this script generates them first.

Run: AE_DATA_DIR=/tmp/ae-example python examples/campaign.py
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from encounters import Engine


async def main() -> None:
    async with Engine() as engine:
        for encounter_id, category in (("enc_bridge_ambush", "combat"),
                                       ("enc_toll_house", "exploration")):  # fmt: skip
            spec = await engine.generate(category=category, player="bob", seed=3, save=False)
            await engine.save_encounter({**spec.model_dump(), "id": encounter_id})

        data = json.loads((Path(__file__).parent / "campaign.json").read_text())
        campaign = await engine.campaigns.save_campaign(data)
        run = await engine.start_campaign(campaign.id, "bob")
        while (step := engine.campaigns.current_encounter(run)) is not None:
            session = await engine.play_campaign_step(run.id)
            await engine.record_choice(session.id, "The bandit begs for mercy", "spare him",
                                       choice_id="spare")  # fmt: skip
            for objective in session.encounter.objectives:
                await engine.update_objective(session.id, objective.id, completed=True)
            await engine.complete_session(session.id)  # this advances the run
            run = await engine.campaigns.status(run.id)
            print(f"finished {step}; carried state: {json.dumps(run.state, sort_keys=True)}")
        print(f"campaign {run.status.value}")


if __name__ == "__main__":
    anyio.run(main)
