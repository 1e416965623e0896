import { describe, expect, it } from "vitest";
import { parseNetworkArgs } from "../config/network-args.ts";
import { resolveTrainConfig } from "../config/resolve.ts";
import { specNetwork } from "../engine/spec-network.ts";
import { networkSpec } from "./network-spec.ts";

const required = { pretrained_model_name_or_path: "/m", train_data_dir: "/d", output_dir: "/o" };

function network(layer: Record<string, unknown>, arch: "sd15" | "sdxl" = "sd15") {
  const spec = networkSpec(
    resolveTrainConfig([required, { network_dim: 8, network_alpha: 4, ...layer }]),
    arch,
  );
  return specNetwork.parse(spec); // what the engine is sent is valid
}

describe("network_args", () => {
  it("parses each arg with its type and keeps the text for ss_network_args", () => {
    const args = parseNetworkArgs(["algo=LoHa", "conv_dim=4", "use_tucker=True", "rank_dropout=0.1"]);
    expect(args.values).toEqual({ algo: "loha", conv_dim: 4, use_tucker: true, rank_dropout: 0.1 });
    expect(args.raw).toEqual({ algo: "LoHa", conv_dim: "4", use_tucker: "True", rank_dropout: "0.1" });
  });

  it("names the offending arg", () => {
    expect(() => parseNetworkArgs(["conv_dims=4"])).toThrow(
      'network_args "conv_dims=4": unknown arg conv_dims',
    );
    expect(() => parseNetworkArgs(["algo=oft"])).toThrow("network_args algo=oft: algo must be one of");
    expect(() => parseNetworkArgs(["dropout=1.5"])).toThrow(
      "network_args dropout=1.5: must be a number in [0, 1)",
    );
    expect(() => parseNetworkArgs(["conv_dim"])).toThrow('network_args "conv_dim": expected key=value');
    expect(() => parseNetworkArgs(["block_dims=1,2"])).toThrow("must be 25 comma-separated numbers");
    expect(() => resolveTrainConfig([required, { network_args: ["bogus=1"] }])).toThrow("unknown arg bogus");
  });
});

describe("networkSpec", () => {
  it("keeps a plain kohya LoRA by default", () => {
    expect(network({})).toMatchObject({ module: "lora", algo: "lora", conv_dim: 0, dropout: 0, args: {} });
  });

  it("LoCon in networks.lora: conv layers only with conv_dim (conv_alpha 1 unless given)", () => {
    expect(network({ network_args: ["conv_dim=4"], network_dropout: 0.1 })).toMatchObject({
      module: "lora",
      conv_dim: 4,
      conv_alpha: 1,
      dropout: 0.1,
      args: { conv_dim: "4" },
    });
  });

  it("lycoris.kohya: convs on at network_dim by default, as LyCORIS reads its args", () => {
    expect(
      network({ network_module: "lycoris.kohya", network_args: ["algo=lokr", "factor=8"] }),
    ).toMatchObject({
      module: "lycoris",
      algo: "lokr",
      conv_dim: 8,
      conv_alpha: 4,
      factor: 8,
    });
  });

  it("algo=dora is LyCORIS' locon with dora_wd, and is written that way", () => {
    const spec = network({ network_module: "lycoris.kohya", network_args: ["algo=dora"] });
    expect(spec).toMatchObject({ algo: "locon", dora_wd: true, args: { algo: "locon", dora_wd: "True" } });
  });

  it("per-block dims for SD1.5", () => {
    const dims = Array.from({ length: 25 }, (_, i) => (i === 12 ? 0 : 4)).join(",");
    expect(network({ network_args: [`block_dims=${dims}`] }).block_dims?.[12]).toBe(0);
    expect(() => network({ network_args: [`block_dims=${dims}`] }, "sdxl")).toThrow(
      "per-block dims are for SD1.5",
    );
  });

  it("refuses args the chosen module or algo does not read", () => {
    expect(() => network({ network_args: ["algo=loha"] })).toThrow("networks.lora has no algo");
    expect(() =>
      network({ network_module: "lycoris.kohya", network_args: ["block_dims=" + "1,".repeat(24) + "1"] }),
    ).toThrow("lycoris.kohya has no block_dims");
    const lycoris = (args: string[]) => network({ network_module: "lycoris.kohya", network_args: args });
    expect(() => lycoris(["algo=loha", "factor=4"])).toThrow("factor is a LoKr setting");
    expect(() => lycoris(["algo=loha", "dropout=0.1"])).toThrow("LyCORIS has no dropout for loha");
    expect(() => lycoris(["algo=ia3", "rank_dropout=0.1"])).toThrow("IA3 takes only module_dropout");
    expect(() => lycoris(["algo=lokr", "dora_wd=True"])).toThrow("danlu trains DoRA on lora/locon");
  });

  it("network_weights becomes an absolute path", () => {
    expect(network({ network_weights: "prev.safetensors" }).weights).toMatch(/^\/.*prev\.safetensors$/);
  });
});
