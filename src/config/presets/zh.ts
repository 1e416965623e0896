import type { ResolvedPreset } from "./index.ts";

/**
 * Every English text of the presets (summary, reasons, missing, advice topics and texts) -> its Chinese,
 * for the web UI's Chinese mode. Flags, key names, file names, numbers and model/tool names stay as they are;
 * "guide 000" is "教程 000". A text shared by several presets has one entry (under the first that uses it).
 * zh.test.ts checks that every text has one and that no entry is left unused.
 */
export const PRESET_TEXT_ZH: Record<string, string> = {
  // person
  "a real person from about 16 varied photos, SD1.5 (guide 000's kohya_ss command)":
    "真人：约 16 张风格各异的照片，SD1.5（教程 000 的 kohya_ss 命令）",
  "guide 000 trains at 512,512 (SD1.5's native size)": "教程 000 用 512,512 训练（SD1.5 的原生尺寸）",
  "guide 000 turns buckets on: photos of any aspect ratio train uncropped":
    "教程 000 开启分桶：任意长宽比的照片都不用裁剪就能训练",
  "guide 000: --min_bucket_reso=256": "教程 000：--min_bucket_reso=256",
  "guide 000: --max_bucket_reso=2048": "教程 000：--max_bucket_reso=2048",
  "guide 000: --bucket_reso_steps=64 (SD1.5 needs multiples of 64)":
    "教程 000：--bucket_reso_steps=64（SD1.5 需要 64 的整数倍）",
  "guide 000: --bucket_no_upscale (small photos are not blown up)":
    "教程 000：--bucket_no_upscale（小图不放大）",
  "guide 000 keeps each caption in image.txt beside image.png":
    "教程 000 把每张图的标注存在 image.png 旁边的 image.txt 里",
  "guide 000: dim 128 looked much better than dim 8 at the same VRAM and time":
    "教程 000：dim 128 与 dim 8 显存占用和训练时长差不多，但效果好很多",
  "guide 000: alpha = dim = 128": "教程 000：alpha = dim = 128",
  "guide 000: --learning_rate=0.0001": "教程 000：--learning_rate=0.0001",
  "guide 000: --unet_lr=0.0001": "教程 000：--unet_lr=0.0001",
  "guide 000: --text_encoder_lr=5e-05 (half the UNet's)": "教程 000：--text_encoder_lr=5e-05（UNet 的一半）",
  "guide 000: --lr_scheduler=constant": "教程 000：--lr_scheduler=constant",
  "guide 000: --optimizer_type=AdamW8bit (8-bit states; needs a CUDA GPU)":
    "教程 000：--optimizer_type=AdamW8bit（8 位优化器状态；需要 CUDA 显卡）",
  "guide 000: batch 2 is the trade-off for a small dataset": "教程 000：训练集小，批次大小 2 算是一种权衡",
  "guide 000: 800 steps for its 16 photos = 50 steps per image (about 90 s on an RTX 4090)":
    "教程 000：16 张照片共 800 步 = 每张图 50 步（RTX 4090 上约 90 秒）",
  "guide 000: --save_every_n_epochs=1": "教程 000：--save_every_n_epochs=1",
  "guide 000: --mixed_precision=bf16": "教程 000：--mixed_precision=bf16",
  "guide 000: --save_precision=bf16": "教程 000：--save_precision=bf16",
  "guide 000: --no_half_vae (the VAE stays in float32)": "教程 000：--no_half_vae（VAE 保持 float32）",
  "guide 000: --cache_latents (each photo goes through the VAE once)":
    "教程 000：--cache_latents（每张照片只过一次 VAE）",
  "guide 000: clip_skip 2 came out a little better than 1": "教程 000：clip_skip 2 比 1 效果好一点",
  "guide 000: --seed=1234": "教程 000：--seed=1234",
  "guide 000: --noise_offset=0.0": "教程 000：--noise_offset=0.0",
  images: "图片",
  "about 16 photos of one person, varied styles, single-person shots (guide 000)":
    "同一个人约 16 张照片，风格尽量不同，尽量用单人照（教程 000）",
  repeats: "重复次数",
  "folder 100_NAME: 16 photos x 100 repeats / batch 2 = 800 steps, one epoch (guide 000)":
    "文件夹 100_NAME：16 张照片 x 100 次重复 / 批次大小 2 = 800 步，1 轮（教程 000）",
  captions: "打标",
  "a unique trigger word in every caption; leave out the person's fixed traits (guide 000)":
    "每条标注都加上同一个独特的触发词；不要写这个人固有的特征（教程 000）",
  "base model": "底模",
  "plain SD1.5 trained better than a realistic checkpoint (guide 000)":
    "在原版 SD1.5 上训练比在写实大模型上效果好（教程 000）",
  // character
  "an anime character from about 20 images (angles, full body, close-ups), SD1.5 anime base (guide 001)":
    "二次元角色：约 20 张图（多角度、全身、特写），SD1.5 二次元底模（教程 001）",
  "guide 001: 768,768; 512 works, below 512 is clearly worse, >1024 gains nothing":
    "教程 001：768,768；512 也行，低于 512 明显变差，超过 1024 没有提升",
  "guide 001: --enable_bucket": "教程 001：--enable_bucket",
  "guide 001: min_bucket_reso = 256": "教程 001：min_bucket_reso = 256",
  "guide 001: max_bucket_reso = 1024": "教程 001：max_bucket_reso = 1024",
  "guide 001: --caption_extension=.txt": "教程 001：--caption_extension=.txt",
  "guide 001: --shuffle_caption (booru tags carry no order)":
    "教程 001：--shuffle_caption（booru 标签本身没有顺序）",
  "guide 001 puts the trigger word first; keeping 1 tag in place keeps it first while the rest shuffle":
    "教程 001 把触发词放在第一位；固定第 1 个标签，其余标签打乱时触发词仍在最前",
  "guide 001: --max_token_length=225 (long tag lists are not cut at 75)":
    "教程 001：--max_token_length=225（长标签列表不会在 75 处截断）",
  "guide 001: dim 64 (usually 4-128; bigger is not better, smaller resists overfitting)":
    "教程 001：dim 64（一般 4-128；不是越大越好，小一些不容易过拟合）",
  "guide 001: alpha 32, half the dim (a smaller alpha needs a higher lr)":
    "教程 001：alpha 32，dim 的一半（alpha 越小，学习率要越高）",
  "guide 001 uses Lion: it generalised better in the author's tests":
    "教程 001 用 Lion：作者测试中泛化性更好",
  "guide 001: lr 5e-5 (with Lion)": "教程 001：学习率 5e-5（配 Lion）",
  "guide 001: unet_lr 5e-5 (with Lion)": "教程 001：unet_lr 5e-5（配 Lion）",
  "guide 001: text_encoder_lr 6e-6 (with Lion)": "教程 001：text_encoder_lr 6e-6（配 Lion）",
  "guide 001 uses Lion, which danlu lacks yet: AdamW is the nearest":
    "教程 001 用 Lion，danlu 暂不支持：AdamW 最接近",
  "guide 003's starting lr for AdamW (guide 001's 5e-5 was for Lion, which wants lower rates)":
    "教程 003 给 AdamW 的起始学习率（教程 001 的 5e-5 是配 Lion 的，Lion 要更低的学习率）",
  "guide 003: UNet 1e-4 is a good start (guide 001's 5e-5 was for Lion)":
    "教程 003：UNet 1e-4 是不错的起点（教程 001 的 5e-5 是配 Lion 的）",
  "guide 003: text encoder 5e-5 (guide 001's 6e-6 was for Lion)":
    "教程 003：文本编码器 5e-5（教程 001 的 6e-6 是配 Lion 的）",
  "guide 001: --lr_scheduler=cosine_with_restarts": "教程 001：--lr_scheduler=cosine_with_restarts",
  "guide 001: lr_restart_cycles = 1": "教程 001：lr_restart_cycles = 1",
  "guide 001: --lr_warmup_steps=50": "教程 001：--lr_warmup_steps=50",
  "guide 001: batch 2 ('if the GPU can, do not use 1')": "教程 001：批次大小 2（“显卡有能力就别设置 1”）",
  "guide 001: 10 epochs, one file each, then pick one from an X/Y grid":
    "教程 001：10 轮，每轮存一个文件，再用 X/Y 图表挑一个",
  "guide 001: save every epoch (it chose epoch 8 of 10)": "教程 001：每轮都保存（它从 10 轮里选了第 8 轮）",
  "guide 001: anime models descend from NovelAI, which used clip skip 2":
    "教程 001：二次元模型都源自 NovelAI，沿用了 clip_skip 2",
  "guide 001: --mixed_precision=fp16": "教程 001：--mixed_precision=fp16",
  "guide 001: --save_precision=fp16": "教程 001：--save_precision=fp16",
  "guide 001: --seed=1337": "教程 001：--seed=1337",
  "guide 001: --cache_latents": "教程 001：--cache_latents",
  "guide 001: --prior_loss_weight=1 (for regularization images, if any)":
    "教程 001：--prior_loss_weight=1（用于正则化图片，如果有的话）",
  "about 20 images: varied angles, full body and close-ups, matted if possible (guide 001)":
    "约 20 张图：多角度、全身和特写，能抠图就抠图（教程 001）",
  "folder 2_TRIGGER: 20 images x 2 repeats x 10 epochs / batch 2 = 200 steps (guide 001)":
    "文件夹 2_TRIGGER：20 张图 x 2 次重复 x 10 轮 / 批次大小 2 = 200 步（教程 001）",
  "WD14/deepbooru tags; delete the character's fixed traits, put the trigger word first (guide 001)":
    "用 WD14/deepbooru 打标；删掉角色固有特征的标签，触发词放在第一位（教程 001）",
  "an anime base close to NovelAI/ACertainty trains best (guides 001, 003)":
    "用接近 NovelAI/ACertainty 的二次元底模训练效果最好（教程 001、003）",
  // style
  "one artist's style from 60-100 consistent images, SD1.5 (guides 002 and 003)":
    "画师画风：60-100 张风格一致的图，SD1.5（教程 002 和 003）",
  "guide 003: train above 512x512 and below 1024x1024": "教程 003：训练分辨率大于 512x512、小于 1024x1024",
  "guide 003: buckets let paintings of any aspect ratio train uncropped":
    "教程 003：分桶让任意长宽比的画作都不用裁剪就能训练",
  "guides 000-002 keep captions in .txt files beside the images":
    "教程 000-002 都把标注存在图片旁边的 .txt 文件里",
  "guide 003: LoHa controls a style best (LoRA < LoCon < LoHa)":
    "教程 003：LoHa 对画风的控制最好（LoRA < LoCon < LoHa）",
  "guide 003: LoHa for styles": "教程 003：画风用 LoHa",
  "guide 002: start from the defaults; LoHa stays at dim <= 32": "教程 002：先用默认值；LoHa 保持 dim <= 32",
  "guide 002: raise dim / lower alpha if unlike, the reverse if overfit":
    "教程 002：不像就调高 dim / 调低 alpha，过拟合就反过来",
  "guide 003 prefers LoHa for styles, which danlu lacks yet: plain LoRA at dim 32":
    "教程 003 画风首选 LoHa，danlu 暂不支持：改用 dim 32 的普通 LoRA",
  "guide 002: Prodigy adapts the learning rate by itself": "教程 002：Prodigy 会自动调整学习率",
  "guide 002: with Prodigy set lr to 1": "教程 002：用 Prodigy 时学习率设为 1",
  "guide 002 uses Prodigy, which danlu lacks yet: AdamW is the nearest":
    "教程 002 用 Prodigy，danlu 暂不支持：AdamW 最接近",
  "guide 003: UNet 1e-4 is a good start (Prodigy would find its own)":
    "教程 003：UNet 1e-4 是不错的起点（Prodigy 会自己找学习率）",
  "guide 003: UNet 1e-4 is a good start": "教程 003：UNet 1e-4 是不错的起点",
  "guide 003: text encoder 5e-5 is a good start": "教程 003：文本编码器 5e-5 是不错的起点",
  "guide 002: cosine with restarts gives more variety in one run":
    "教程 002：带重启的余弦退火（cosine_with_restarts）能在同一次训练中得到更多不同的效果",
  "guide 003: no more than 4 restarts": "教程 003：重启次数不超过 4 次",
  "guide 002: batch 2 (VRAM-bound)": "教程 002：批次大小 2（受显存限制）",
  "guide 003: a style needs at least 2500 steps at UNet lr 1e-4":
    "教程 003：UNet 学习率 1e-4 时，画风至少要 2500 步",
  "guide 002: save every epoch and stop when samples start to blur": "教程 002：每轮都保存，样图开始变糊就停",
  "guide 001: 'usually 2'; guide 003 trains styles on an anime base (AnyLoRA)":
    "教程 001：“一般就 2”；教程 003 在二次元底模（AnyLoRA）上训练画风",
  "guides 000 and 001 cache latents (each image through the VAE once)":
    "教程 000 和 001 都缓存 latent（每张图只过一次 VAE）",
  "60-80 images of one consistent style; over 100, split the set (guide 002; 003: at least 100)":
    "60-80 张画风一致的图；超过 100 张就拆分训练集（教程 002；教程 003：至少 100 张）",
  "folder 20_NAME to 30_NAME: 20-30 repeats, not lower (guide 002)":
    "文件夹 20_NAME 到 30_NAME：重复 20-30 次，不要更低（教程 002）",
  "WD14 tags plus manual tagging; group works of one subject together (guide 002)":
    "WD14 打标再加手动打标；同一题材的作品归到一起（教程 002）",
  judging: "评估",
  "lowest loss is not the best style: compare the epochs' samples (guide 002)":
    "loss 最低不等于画风最好：对比各轮的样图（教程 002）",
  // concept
  "a concept (object, pose, outfit) from 50+ varied images, SD1.5 (guide 003)":
    "概念（物体、姿势、服装）：50 张以上多样的图，SD1.5（教程 003）",
  "guide 003: aspect-ratio buckets are on by default in the scripts": "教程 003：脚本默认开启长宽比分桶",
  "guide 001 shuffles tags; the trigger stays first with keep_tokens":
    "教程 001 打乱标签；用 keep_tokens 让触发词留在第一位",
  "guide 001: the first tag weighs most, so the trigger word stays first":
    "教程 001：第一个标签权重最大，所以触发词放在第一位",
  "guide 003: LoCon also trains the conv layers": "教程 003：LoCon 还会训练卷积层",
  "guide 001: dim 64 (usually 4-128, bigger is not better)": "教程 001：dim 64（一般 4-128，不是越大越好）",
  "guide 001: alpha half the dim": "教程 001：alpha 取 dim 的一半",
  "guide 003 suggests LoCon, which danlu lacks yet: plain LoRA at guide 001's dim 64":
    "教程 003 建议用 LoCon，danlu 暂不支持：改用普通 LoRA，dim 取教程 001 的 64",
  "guide 003 gives its rates for AdamW": "教程 003 给出的是 AdamW 的学习率",
  "guide 003: UNet 1e-4 is a good initial value": "教程 003：UNet 1e-4 是不错的初始值",
  "guide 003: text encoder 5e-5 is a good initial value": "教程 003：文本编码器 5e-5 是不错的初始值",
  "guide 003 recommends cosine": "教程 003 推荐 cosine",
  "guide 003: warmup, if used, 5-10% of the total steps": "教程 003：如果开启预热，预热步数占总步数的 5-10%",
  "guide 003: a bigger batch is steadier; 2 is what guides 000-002 use":
    "教程 003：批次大小越大越稳定；教程 000-002 用的是 2",
  "guide 003: a concept needs at least 3000 steps at UNet lr 1e-4":
    "教程 003：UNet 学习率 1e-4 时，概念至少要 3000 步",
  "guide 001: save each epoch, pick the best from an X/Y grid": "教程 001：每轮都保存，用 X/Y 图表挑最好的",
  "guide 001: 'usually 2' (anime bases descend from NovelAI)":
    "教程 001：“一般就 2”（二次元底模都源自 NovelAI）",
  "at least 50 images in varied styles so no style is baked in (guide 003)":
    "至少 50 张画风多样的图，以免把画风烘焙进模型（教程 003）",
  "balance several concepts: the smaller one gets its own folder with more repeats (guide 003)":
    "平衡多个概念：图少的概念单独放一个文件夹，增加重复次数（教程 003）",
  "several taggers at a lower threshold, then prune; merge related tags into phrases (guide 003)":
    "用多个打标模型以较低阈值打标，再删掉错打的；把相关标签合并成短语（教程 003）",
  // face-sdxl
  "one person's face on SDXL from a few sharp, varied photos (guide 004, diffusers advanced script)":
    "SDXL 人脸：同一个人少量清晰、多样的照片（教程 004，diffusers 高级脚本）",
  "guide 004 trains SDXL base 1.0": "教程 004 在 SDXL 1.0 底模上训练",
  "guide 004: --resolution=1024 (SDXL's native size)": "教程 004：--resolution=1024（SDXL 的原生尺寸）",
  "guide 004: rank 32; rank 64 smoothed the skin too much": "教程 004：rank 32；rank 64 把皮肤磨得太平滑",
  "guide 004's script sets alpha = rank": "教程 004 的脚本设置 alpha = rank",
  "guide 004: Prodigy picks its own step size": "教程 004：Prodigy 自己决定步长",
  "guide 004: lr 1.0 with Prodigy": "教程 004：配 Prodigy 时学习率 1.0",
  "guide 004: with Prodigy all parts start at the same lr 1.0":
    "教程 004：用 Prodigy 时各部分都从相同的学习率 1.0 开始",
  "guide 004: beta2 0.99, weight decay 0.01, safeguard warmup, bias correction":
    "教程 004：beta2 0.99、权重衰减 0.01、safeguard_warmup、偏差校正",
  "guide 004 uses Prodigy, which danlu lacks yet: AdamW is the nearest":
    "教程 004 用 Prodigy，danlu 暂不支持：AdamW 最接近",
  "guide 004: 1e-4 for the UNet with AdamW": "教程 004：用 AdamW 时 UNet 学习率 1e-4",
  "guide 004: the text encoder overfits faster, so a lower lr (5e-5)":
    "教程 004：文本编码器更容易过拟合，所以学习率更低（5e-5）",
  "guide 004: beta2 0.99, weight decay 0.01": "教程 004：beta2 0.99、权重衰减 0.01",
  "guide 004: min-SNR gamma 5.0 balances the timesteps' losses":
    "教程 004：min-SNR gamma 5.0 平衡各时间步的损失",
  "guide 004 uses min-SNR gamma 5.0; danlu lacks min_snr_gamma yet, so the loss is unweighted":
    "教程 004 用 min-SNR gamma 5.0；danlu 暂不支持 min_snr_gamma，所以损失不加权",
  "guide 004: pivotal tuning (new tokens <s0><s1>) beat training the text encoder":
    "教程 004：枢轴微调（新 token <s0><s1>）比训练文本编码器效果好",
  "guide 004: 2 new tokens per trigger word": "教程 004：每个触发词 2 个新 token",
  "guide 004: the new tokens train for the first half, then freeze":
    "教程 004：新 token 只在前一半训练，之后冻结",
  "guide 004: 3e-4, cog-sdxl's text lr for pivotal tuning": "教程 004：3e-4，cog-sdxl 枢轴微调的文本学习率",
  "guide 004: with pivotal tuning the text encoders' weights stay as they are":
    "教程 004：枢轴微调时文本编码器的权重保持不变",
  "guide 004 prefers pivotal tuning (new tokens <s0><s1>); danlu lacks it yet, so the text encoder LoRA trains":
    "教程 004 首选枢轴微调（新 token <s0><s1>）；danlu 暂不支持，所以改为训练文本编码器的 LoRA",
  "guide 004: steps = 75-120 x images; x120 gave the best faces":
    "教程 004：步数 = 75-120 x 图片数；x120 的脸最好",
  "guide 004 counts steps per image at repeats 1; batch 1 = one photo a step":
    "教程 004 按重复次数 1 计算每张图的步数；批次大小 1 = 每步一张照片",
  "guide 004: --lr_scheduler=constant": "教程 004：--lr_scheduler=constant",
  "guide 004: --lr_warmup_steps=0": "教程 004：--lr_warmup_steps=0",
  "guide 004: --mixed_precision=bf16": "教程 004：--mixed_precision=bf16",
  "guide 004: --gradient_checkpointing (SDXL at 1024 px is large)":
    "教程 004：--gradient_checkpointing（1024 px 的 SDXL 很占显存）",
  "guide 004 uses the fp16-fix VAE: SDXL's own VAE must stay in float32":
    "教程 004 用 fp16 修正版 VAE：SDXL 自带的 VAE 必须保持 float32",
  "guide 004: --seed=0": "教程 004：--seed=0",
  "few but sharp photos: close-ups plus some full-body, no other faces, varied light and background (guide 004)":
    "照片少而清晰：特写加一些全身照，不要有别人的脸，光线和背景多样（教程 004）",
  "folder 1_TRIGGER: repeats 1 (guide 004)": "文件夹 1_TRIGGER：重复次数 1（教程 004）",
  prior: "正则化",
  "real portrait photos as reg_data_dir (100-150) kept the likeness; generated ones hurt (guide 004)":
    "用真实人像照片作 reg_data_dir（100-150 张）能保住相似度；用生成的图反而变差（教程 004）",
  "a caption per photo beats one instance prompt for all (guide 004)":
    "每张照片单独标注，比所有照片共用一个实例提示词效果好（教程 004）",
  trigger: "触发词",
  "name the person with one word in every caption and pass it as --trigger-word (or pivotal_token): pivotal tuning puts <s0><s1> in its place (guide 004)":
    "每条标注都用同一个词指代这个人，并用 --trigger-word（或 pivotal_token）传入：枢轴微调会用 <s0><s1> 替换它（教程 004）",
  // portrait
  "fast: one person from 10-20 cropped selfies, SD1.5, UNet only, 400 steps (danlu portrait; guides 000, 003 and 004)":
    "快速：同一个人 10-20 张裁剪好的自拍，SD1.5，只训练 UNet，400 步（danlu portrait；教程 000、003 和 004）",
  "guide 000 turns buckets on, so an uncropped photo still trains": "教程 000 开启分桶，没裁剪的照片也能训练",
  "guide 003: train below 1024x1024; selfies need no larger bucket":
    "教程 003：训练分辨率小于 1024x1024；自拍用不着更大的桶",
  "guide 000 upscales photos under 512 px first; square crops then share one bucket (full batches)":
    "教程 000 先把不到 512 px 的照片放大；这样方形裁剪的照片都落进同一个桶（批次是满的）",
  "guide 004: rank 32 for faces (64 smoothed the skin); a quarter of guide 000's":
    "教程 004：人脸用 rank 32（64 把皮肤磨得太平滑）；是教程 000 的四分之一",
  "guide 004's script sets alpha = rank, so the short run is not scaled down":
    "教程 004 的脚本设置 alpha = rank，这样短训练的更新不会被缩小",
  "guide 004: the text encoder overfits faster; UNet only also skips its backward (speed)":
    "教程 004：文本编码器更容易过拟合；只训练 UNet 还能省掉它的反向传播（更快）",
  "guide 000's captions do not change between steps: each is encoded once (frozen text encoder)":
    "教程 000 的标注在各步之间不变：每条只编码一次（文本编码器冻结）",
  "guide 000's AdamW8bit saves memory; dim-32 UNet-only states are ~0.1 GB: AdamW is faster (fused)":
    "教程 000 的 AdamW8bit 省显存；dim-32 只训练 UNet 时优化器状态约 ~0.1 GB：AdamW 更快（融合内核）",
  "guide 003: double the batch, double the UNet lr (guide 000: 1e-4 at batch 2)":
    "教程 003：批次大小翻倍，UNet 学习率也翻倍（教程 000：批次大小 2 时为 1e-4）",
  "guide 003 recommends cosine annealing": "教程 003 推荐余弦退火 cosine",
  "guide 003: warmup, if any, 5-10% of the steps": "教程 003：如果开启预热，预热步数占总步数的 5-10%",
  "guide 000 uses batch 2 for 16 photos; 4 fills a GPU better at 512 px":
    "教程 000 的 16 张照片用批次大小 2；512 px 下用 4 更能跑满显卡",
  "guide 000's 800 steps x batch 2 = 1600 photo views; at batch 4 that is 400 steps (a fixed budget)":
    "教程 000 的 800 步 x 批次大小 2 = 1600 张次；批次大小 4 就是 400 步（训练量固定）",
  "guide 000 saves every epoch to pick one by eye; the portrait service ranks the final file's images":
    "教程 000 每轮都保存，靠肉眼挑；写真服务则给最终文件的出图打分排序",
  "guide 000 used 0.0; 0.05 lets ID-photo white and cyberpunk night backgrounds go fully bright or dark":
    "教程 000 用的是 0.0；0.05 让证件照白底和赛博朋克夜景背景能全亮或全暗",
  "guide 000: --no_half_vae (the VAE runs once per photo: latents are cached)":
    "教程 000：--no_half_vae（latent 已缓存，每张照片只过一次 VAE）",
  "guide 000 fits batch 2 in 7 GB without it; checkpointing costs a forward pass per step":
    "教程 000 不开它，批次大小 2 也只占 7 GB；开了每步要多算一次前向",
  "guide 000: clip_skip 2 came out a little better than 1 (generate with it too)":
    "教程 000：clip_skip 2 比 1 效果好一点（出图时也用它）",
  "10-20 selfies of one person, one face each, varied angles, light and clothes; cropped to the head and shoulders (guide 000)":
    "同一个人 10-20 张自拍，每张只有一张脸，角度、光线和衣服多样；裁剪到头肩（教程 000）",
  "folder 10_NAME or so: max_train_steps fixes the run's length whatever the repeats (guide 000 counts steps = images x repeats x epochs / batch)":
    "文件夹 10_NAME 左右即可：不管重复次数多少，训练长度都由 max_train_steps 决定（教程 000 的算法：步数 = 图片数 x 重复次数 x 轮数 / 批次大小）",
  "trigger word and class first ('dlperson woman, ...'); leave out the person's fixed traits (guide 000)":
    "触发词和类别词放在最前（'dlperson woman, ...'）；不要写这个人固有的特征（教程 000）",
  "train on plain SD1.5, generate on a realistic checkpoint (guide 000)":
    "在原版 SD1.5 上训练，用写实大模型出图（教程 000）",
};

/** A text in Chinese, or as it is when it has no translation. */
function zh(text: string): string {
  return (Object.hasOwn(PRESET_TEXT_ZH, text) ? PRESET_TEXT_ZH[text] : undefined) ?? text;
}

/** The preset with its texts in Chinese (a text without a translation stays English); keys and values are kept. */
export function translatePreset(preset: ResolvedPreset): ResolvedPreset {
  return {
    ...preset,
    summary: zh(preset.summary),
    settings: preset.settings.map((setting) => ({ ...setting, reason: zh(setting.reason) })),
    missing: preset.missing.map(zh),
    advice: preset.advice.map((advice) => ({ topic: zh(advice.topic), text: zh(advice.text) })),
  };
}
