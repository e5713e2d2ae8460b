"""Would grayscale copies of the 1,500 clean BIQ2021 photographs, as further clean examples for vqual-lite@2.0's
attribute heads, stop the grayscale held-out pictures (moon, brick, gravel) being read as blurred? (issue #21;
research/lite2/README.md, seventh session). A proxy for benchmarks/explain_truth.py without the language model: a
picture counts as clean when no attribute reaches its "noticeable" band; the bands are refitted for each head as
scripts/fit_severity_bands.py fits them (its out-of-fold code, with the head's extra rows in every fold); injected
distortions: the attribute of McMaster 13-18's distortion at levels 3-5 reaching "noticeable". The shipped head's
row reproduces explain_truth's 21 of 38 clean and 11 with a strong word.
Usage: python research/lite2/clean_grayscale.py WORK BIQ_ROOT FEATS.npz BANDS_CACHE OUT_DIR
(WORK: scripts/train_lite2.py's work folder; FEATS.npz: clean_negatives_large.py's `features` output;
BANDS_CACHE: fit_severity_bands.py's --cache)."""
import sys, time, numpy as np, torch  # noqa: E401
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "benchmarks")]
import train_lite2 as L2
import fit_severity_bands as B
from fit_lite import attribute_targets, folds
from vqual.heads.linear import fit_ridge
from vqual.encoders.features import block_digest
import vqual
from vqual.media import load_image
torch.set_num_threads(2)
W, R, FEATS, BCACHE, OUT = (Path(a) for a in sys.argv[1:6])
lite=vqual.load_model('vqual-lite@2.0')
paths,y=L2.biq_split(R,'train'); va=L2.val_mask(len(paths),0)
order=[i for i in np.argsort(-y,kind='stable') if not va[i]][:1500]
gpath=OUT/'gray_x.npy'
if gpath.exists(): xg=np.load(gpath)
else:
    xs=[]; t0=time.time()
    for k,i in enumerate(order):
        rgb=load_image(paths[i]).astype(np.float32)
        g=(rgb@np.array([0.299,0.587,0.114],np.float32)).round().clip(0,255).astype(np.uint8)
        xs.append(lite.features(np.repeat(g[...,None],3,axis=2)))
        if k%250==0: print(k, time.time()-t0, flush=True)
    xg=np.stack(xs).astype(np.float64); np.save(gpath,xg)
names=list(B.IMAGE_SOURCES); card=lite.config['attributes']; alpha=float(card['alpha'])
# the heads stage's rows
meta,load=L2.synthetic_items()
x_syn=np.hstack([np.load(W/'feat-syn.npy'), np.load(W/'syn-measures.npy')])
import argparse
a=argparse.Namespace(work=W, clean_negatives=1500, large_mosaics=48, distorted_photographs=0)  # 2.1.1's rows
xe,me,_=L2.extra_attribute_rows(a,paths,y,va,np.load(W/'feat-biq-train.npy'))
ye=attribute_targets(me,B.IMAGE_SOURCES); ys=attribute_targets(list(meta),B.IMAGE_SOURCES)
z=np.load(FEATS, allow_pickle=True)
clean_x, clean_names = z['clean_x'], list(z['clean_names'])
dist_x, dist_d, dist_lv = z['dist_x'], list(z['dist_d']), z['dist_lv']
with np.load(BCACHE/block_digest(lite.encoder.block)/'image_features.npz') as f: xb=f['x'].astype(np.float64)
fs=folds([m['content'] for m in meta],6,seed=0)
attr_of={d:names.index(k) for k,ds in B.IMAGE_SOURCES.items() for d in ds}
def evaluate(tag, head, x_extra, y_extra):
    oof=np.clip(B.oof_with_extra(xb, ys, fs, alpha, x_extra, y_extra),0,1)
    bands=B.fit_group(list(meta), oof, names, B.IMAGE_SOURCES)
    th={k:v['thresholds'] for k,v in bands.items()}
    def band(v,k): return int(np.searchsorted(th[k], v, side='right'))
    c=np.clip(head(clean_x),0,1)
    noticed=[[names[j] for j in range(len(names)) if band(c[i,j],names[j])>=2] for i in range(len(c))]
    called=sum(not n for n in noticed)
    strong=sum(any(band(c[i,j],names[j])>=3 for j in range(len(names))) for i in range(len(c)))
    d=np.clip(head(dist_x),0,1); hi=dist_lv>=3
    named=sum(band(d[i,attr_of[dist_d[i]]],names[attr_of[dist_d[i]]])>=2 for i in np.flatnonzero(hi))
    print(f'{tag}: clean 38 -> {called} with nothing noticeable, {strong} with strong+; injected named (noticeable+) at levels 3-5: {named}/{int(hi.sum())}', flush=True)
    print('   misses:', {clean_names[i]:noticed[i] for i in range(len(c)) if noticed[i]}, flush=True)
    print('   thresholds:', {k:v[1] for k,v in th.items()}, flush=True)
evaluate('shipped head, recipe bands', lite.heads['attributes'], xe, ye)
for wg in (1,3):
    xa=np.vstack([x_syn,xe]+[xg]*wg); ya=np.vstack([ys,ye]+[np.zeros((len(xg),len(names)))]*wg)
    h=fit_ridge(xa,ya,alpha,tuple(names))
    evaluate(f'+ grayscale clean x{wg}', h, np.vstack([xe]+[xg]*wg), np.vstack([ye]+[np.zeros((len(xg),len(names)))]*wg))
