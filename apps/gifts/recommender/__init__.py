"""Gift recommendations: which five gifts to put first in a viewer's tray for this stream.

`model` is the numpy model (features, the conditional logit, its fit; no Django), `training`
replays the gift history to fit and evaluate it, `storage` keeps the fitted versions and
`serving` answers requests. Their public names are importable from here.
"""

from apps.gifts.recommender.model import CONTEXT as CONTEXT
from apps.gifts.recommender.model import FEATURES as FEATURES
from apps.gifts.recommender.model import TOP_K as TOP_K
from apps.gifts.recommender.model import Examples as Examples
from apps.gifts.recommender.model import GiftModel as GiftModel
from apps.gifts.recommender.model import History as History
from apps.gifts.recommender.model import context_row as context_row
from apps.gifts.recommender.model import feature_tensor as feature_tensor
from apps.gifts.recommender.model import fit_conditional_logit as fit_conditional_logit
from apps.gifts.recommender.model import model_fit as model_fit
from apps.gifts.recommender.serving import HOST_POPULARITY_CACHE_KEY as HOST_POPULARITY_CACHE_KEY
from apps.gifts.recommender.serving import Recommendation as Recommendation
from apps.gifts.recommender.serving import gift_recommendations as gift_recommendations
from apps.gifts.recommender.serving import popular_gift_ids as popular_gift_ids
from apps.gifts.recommender.storage import ACTIVE_VERSION_CACHE_KEY as ACTIVE_VERSION_CACHE_KEY
from apps.gifts.recommender.storage import CACHE_SECONDS as CACHE_SECONDS
from apps.gifts.recommender.storage import KEEP_VERSIONS as KEEP_VERSIONS
from apps.gifts.recommender.storage import MODEL_DIR as MODEL_DIR
from apps.gifts.recommender.storage import POPULAR_CACHE_KEY as POPULAR_CACHE_KEY
from apps.gifts.recommender.storage import local_caches_clear as local_caches_clear
from apps.gifts.recommender.storage import model_active as model_active
from apps.gifts.recommender.storage import model_store as model_store
from apps.gifts.recommender.training import Evaluation as Evaluation
from apps.gifts.recommender.training import history_replay as history_replay
from apps.gifts.recommender.training import recommender_evaluate as recommender_evaluate
from apps.gifts.recommender.training import recommender_train as recommender_train
