#!/usr/bin/env Rscript
# Regenerates validation/references/*.json: reference results from R metafor for the
# ici_atlas.meta engine. Run from the repository root:
#   Rscript validation/make_references.R [output_dir]
# Needs R >= 4.1 with metafor, lme4 and jsonlite (Debian: r-cran-metafor r-cran-lme4
# r-cran-jsonlite). Everything below is deterministic: datasets are literal numbers or
# drawn with set.seed(); metafor/lme4 are called with their default settings.

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[1] else file.path("validation", "references")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# ---------------------------------------------------------------- datasets
sim_data <- function(k, seed, nmin, nmax, pmin, pmax, tau) {
  set.seed(seed)
  ni <- sample(nmin:nmax, k, replace = TRUE)
  mu <- qlogis(runif(1, pmin, pmax))
  pi <- plogis(mu + rnorm(k, 0, tau))
  xi <- rbinom(k, ni, pi)
  list(events = xi, totals = ni)
}

datasets <- list()
datasets$k2 <- list(events = c(4, 15), totals = c(30, 50))
datasets$k3 <- list(events = c(2, 9, 14), totals = c(25, 40, 45))
datasets$moderate <- sim_data(12, 20261, 20, 600, 0.05, 0.5, 0.6)
datasets$zeros <- list(events = c(0, 3, 12, 0, 7, 20, 5, 9),
                       totals = c(15, 40, 60, 22, 35, 20, 80, 45))
datasets$small_n <- list(events = c(1, 3, 0, 4, 2, 6), totals = c(5, 8, 6, 12, 9, 15))
datasets$large_n <- sim_data(10, 20262, 1000, 5000, 0.15, 0.35, 0.25)
datasets$homogeneous <- list(events = c(10, 20, 31, 40, 15, 24, 50, 12, 8, 61),
                             totals = c(50, 100, 155, 200, 75, 120, 250, 60, 40, 305))
datasets$near_homogeneous <- list(events = c(10, 21, 30, 41, 15, 23, 50, 12, 8, 60),
                                  totals = c(50, 100, 155, 200, 75, 120, 250, 60, 40, 305))
datasets$k200 <- sim_data(200, 20263, 20, 600, 0.05, 0.5, 0.5)
# moderators for subgroup / meta-regression cases (ORR-like: year and line of therapy)
set.seed(20264)
datasets$moderate$group <- rep(c("first-line", "second-line", "refractory"), 4)
datasets$moderate$year <- sample(2012:2024, 12, replace = TRUE)
datasets$zeros$group <- c("A", "A", "B", "A", "B", "B", "A", "B")
datasets$k200$group <- sample(c("melanoma", "NSCLC", "RCC", "urothelial"), 200, replace = TRUE)
datasets$k200$year <- sample(2012:2024, 200, replace = TRUE)

measures <- c("PR", "PLN", "PLO", "PAS", "PFT")
methods <- c("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
tests <- c("z", "knha")

backtransform <- function(measure, ni) {
  switch(measure,
    PR = list(f = function(x) x, targs = NULL),
    PLN = list(f = exp, targs = NULL),
    PLO = list(f = transf.ilogit, targs = NULL),
    PAS = list(f = transf.iarcsin, targs = NULL),
    PFT = list(f = transf.ipft.hm, targs = list(ni = ni)))
}

num <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else as.numeric(x)

rma_case <- function(dname, d, measure, method, test, add = NULL, to = "only0") {
  case <- list(dataset = dname, measure = measure, method = method, test = test, to = to,
               add = if (is.null(add)) NA else add)
  res <- tryCatch({
    es <- if (is.null(add)) escalc(measure, xi = d$events, ni = d$totals, to = to)
          else escalc(measure, xi = d$events, ni = d$totals, add = add, to = to)
    fit <- suppressWarnings(rma(yi, vi, data = es, method = method, test = test))
    pr <- predict(fit)
    bt <- backtransform(measure, d$totals)
    prb <- if (is.null(bt$targs)) predict(fit, transf = bt$f)
           else predict(fit, transf = bt$f, targs = bt$targs)
    out <- list(b = num(fit$beta), se = num(fit$se), zval = num(fit$zval), pval = num(fit$pval),
         ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
         pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub),
         tau2 = num(fit$tau2), I2 = num(fit$I2), H2 = num(fit$H2),
         QE = num(fit$QE), QEp = num(fit$QEp),
         pred_prop = num(prb$pred), ci_lb_prop = num(prb$ci.lb), ci_ub_prop = num(prb$ci.ub),
         pi_lb_prop = num(prb$pi.lb), pi_ub_prop = num(prb$pi.ub))
    # the escalc outcomes once per dataset x measure x zero-cell setting (they do not
    # depend on method or test)
    if ((method == "FE" && test == "z") || to != "only0" || !is.null(add)) out <- c(list(yi = num(es$yi), vi = num(es$vi)), out)
    out
  }, error = function(e) list(error = conditionMessage(e)))
  c(case, res)
}

rma_cases <- list()
for (dname in names(datasets)) {
  d <- datasets[[dname]]
  for (measure in measures) for (method in methods) for (test in tests) {
    rma_cases[[length(rma_cases) + 1]] <- rma_case(dname, d, measure, method, test)
  }
}
# zero-cell handling variants
for (measure in c("PR", "PLN", "PLO")) for (to in c("all", "if0all", "only0")) {
  rma_cases[[length(rma_cases) + 1]] <- rma_case("zeros", datasets$zeros, measure, "REML", "z",
                                                 add = 0.1, to = to)
  rma_cases[[length(rma_cases) + 1]] <- rma_case("zeros", datasets$zeros, measure, "DL", "z",
                                                 to = to)
}
for (measure in c("PR", "PLN", "PLO")) {
  rma_cases[[length(rma_cases) + 1]] <- rma_case("moderate", datasets$moderate, measure, "REML",
                                                 "z", to = "none")
}
for (measure in c("PAS", "PFT")) {
  rma_cases[[length(rma_cases) + 1]] <- rma_case("zeros", datasets$zeros, measure, "REML", "z",
                                                 add = 0.5, to = "only0")
}

# ---------------------------------------------------------------- GLMM
glmm_case <- function(dname, d, test) {
  case <- list(dataset = dname, measure = "PLO", method = "GLMM", test = test)
  res <- tryCatch({
    fit <- suppressWarnings(rma.glmm(measure = "PLO", xi = d$events, ni = d$totals,
                                     test = test))
    pr <- predict(fit)
    list(b = num(fit$beta), se = num(fit$se), zval = num(fit$zval), pval = num(fit$pval),
         ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
         pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub),
         tau2 = num(fit$tau2), I2 = num(fit$I2), H2 = num(fit$H2),
         QE_Wld = num(fit$QE.Wld), QEp_Wld = num(fit$QEp.Wld),
         QE_LRT = num(fit$QE.LRT), QEp_LRT = num(fit$QEp.LRT),
         ll = num(fit$fit.stats["ll", "ML"]))
  }, error = function(e) list(error = conditionMessage(e)))
  c(case, res)
}
glmm_cases <- list()
for (dname in names(datasets)) for (test in c("z", "t")) {
  glmm_cases[[length(glmm_cases) + 1]] <- glmm_case(dname, datasets[[dname]], test)
}

# ---------------------------------------------------------------- subgroups
subgroup_case <- function(dname, d, measure, method, test) {
  case <- list(dataset = dname, measure = measure, method = method, test = test)
  res <- tryCatch({
    es <- escalc(measure, xi = d$events, ni = d$totals)
    es$g <- d$group
    lev <- sort(unique(d$group))
    est <- se <- tau2 <- numeric(0)
    for (lv in lev) {
      f <- suppressWarnings(rma(yi, vi, data = es, subset = (es$g == lv), method = method,
                                test = test))
      est <- c(est, c(f$beta)); se <- c(se, f$se); tau2 <- c(tau2, f$tau2)
    }
    sep <- rma(est, sei = se, mods = ~ factor(lev), method = "FE")
    com <- suppressWarnings(rma(yi, vi, mods = ~ factor(g), data = es, method = method,
                                test = test))
    list(levels = lev, est = est, se = se, tau2 = tau2,
         Q_between_separate = num(sep$QM), p_between_separate = num(sep$QMp),
         Q_between_common = num(com$QM), p_between_common = num(com$QMp),
         tau2_common = num(com$tau2))
  }, error = function(e) list(error = conditionMessage(e)))
  c(case, res)
}
subgroup_cases <- list()
for (dname in c("moderate", "zeros", "k200")) for (method in c("REML", "DL", "PM"))
  for (test in tests) for (measure in c("PLO", "PAS")) {
    subgroup_cases[[length(subgroup_cases) + 1]] <-
      subgroup_case(dname, datasets[[dname]], measure, method, test)
  }

# ---------------------------------------------------------------- meta-regression
metareg_case <- function(dname, d, measure, method, test, mods) {
  case <- list(dataset = dname, measure = measure, method = method, test = test, mods = mods)
  res <- tryCatch({
    es <- escalc(measure, xi = d$events, ni = d$totals)
    es$group <- d$group; es$year <- d$year
    form <- as.formula(paste("~", paste(mods, collapse = " + ")))
    f <- suppressWarnings(rma(yi, vi, mods = form, data = es, method = method, test = test))
    list(coef_names = rownames(f$beta), b = num(f$beta), se = num(f$se), zval = num(f$zval),
         pval = num(f$pval), ci_lb = num(f$ci.lb), ci_ub = num(f$ci.ub),
         QM = num(f$QM), QMp = num(f$QMp), QE = num(f$QE), QEp = num(f$QEp),
         tau2 = num(f$tau2), I2 = num(f$I2), H2 = num(f$H2), R2 = num(f$R2))
  }, error = function(e) list(error = conditionMessage(e)))
  c(case, res)
}
metareg_cases <- list()
for (dname in c("moderate", "k200")) for (method in c("FE", "DL", "ML", "REML", "PM", "SJ"))
  for (test in tests) for (mods in list("year", "group", c("year", "group"))) {
    metareg_cases[[length(metareg_cases) + 1]] <-
      metareg_case(dname, datasets[[dname]], "PLO", method, test, mods)
  }

# ---------------------------------------------------------------- write
meta <- list(generated_by = "validation/make_references.R",
             R = R.version.string,
             metafor = as.character(packageVersion("metafor")),
             lme4 = as.character(packageVersion("lme4")))
w <- function(x, name) write_json(x, file.path(out_dir, name), auto_unbox = TRUE,
                                  digits = NA, pretty = TRUE, na = "null")
w(c(meta, list(datasets = datasets)), "datasets.json")
w(c(meta, list(cases = rma_cases)), "rma.json")
w(c(meta, list(cases = glmm_cases)), "glmm.json")
w(c(meta, list(cases = subgroup_cases)), "subgroup.json")
w(c(meta, list(cases = metareg_cases)), "metareg.json")
cat(sprintf("wrote %d rma, %d glmm, %d subgroup, %d metareg cases to %s\n",
            length(rma_cases), length(glmm_cases), length(subgroup_cases),
            length(metareg_cases), out_dir))
